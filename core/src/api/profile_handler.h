// /v1 routes that edit the contact profile: create, edit and block contacts, merge two
// contacts, conversation tags and notes. Reads are ApiHandler's; sends are SendHandler's.
#pragma once

#include <functional>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "http/server.h"
#include "storage/store.h"

namespace gateway::api {

class ProfileHandler {
 public:
  ProfileHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store, crm::EventFeed& feed);

  // `guard` wraps a handler with the bearer-token check.
  void addRoutes(http::Router& router, const std::function<http::Handler(http::Handler)>& guard);

  http::Response createContact(http::Request& request);
  http::Response editContact(http::Request& request);
  http::Response mergeContacts(http::Request& request);
  http::Response setTags(http::Request& request);
  http::Response addNote(http::Request& request);

 private:
  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  crm::EventFeed& feed_;
};

}  // namespace gateway::api
