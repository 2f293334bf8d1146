// /v1: the CRM API. Bearer-token auth in front of every route.
#pragma once

#include <functional>
#include <string>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "http/server.h"
#include "storage/store.h"

namespace gateway::api {

class ApiHandler {
 public:
  ApiHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store, crm::EventFeed& feed);

  void addRoutes(http::Router& router);

  // True when the request carries "Authorization: Bearer <token>" with a configured token.
  static bool authorized(const http::Request& request, const config::GatewayConfig& config);

  // Wraps any handler with the token check (for the other /v1 handlers).
  http::Handler requireToken(http::Handler handler);

  http::Response listChannels(http::Request& request);
  http::Response listContacts(http::Request& request);
  http::Response getContact(http::Request& request);
  http::Response getConversation(http::Request& request);
  http::Response listMessages(http::Request& request);
  http::Response getMessage(http::Request& request);
  http::Response listEvents(http::Request& request);

 private:
  // Wraps a handler with the token check.
  http::Handler guarded(http::Response (ApiHandler::*method)(http::Request&));

  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  crm::EventFeed& feed_;
};

}  // namespace gateway::api
