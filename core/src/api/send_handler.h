// /v1 routes that make the gateway send: messages, scheduled messages, new conversations.
#pragma once

#include <exception>
#include <functional>

#include "app/channels.h"
#include "crm/event_feed.h"
#include "delivery/outbox.h"
#include "http/server.h"
#include "storage/store.h"

namespace gateway::api {

class SendHandler {
 public:
  // wakeDelivery / wakeScheduler: called after a commit that gave them work.
  SendHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store, crm::EventFeed& feed,
              std::function<void()> wakeDelivery, std::function<void()> wakeScheduler);

  // `guard` wraps a handler with the bearer-token check.
  void addRoutes(http::Router& router, const std::function<http::Handler(http::Handler)>& guard);

  http::Response sendMessage(http::Request& request);
  http::Response createSchedule(http::Request& request);
  http::Response listContactSchedules(http::Request& request);
  http::Response listConversationSchedules(http::Request& request);
  http::Response cancelSchedule(http::Request& request);
  http::Response availableChannels(http::Request& request);
  http::Response startConversation(http::Request& request);

 private:
  http::Response listSchedules(http::Request& request, const char* field, const char* what);
  // The answer to a send once its accept job is done (or failed: 500).
  http::Response answerSend(const delivery::Accepted& accepted, const std::exception_ptr& error) noexcept;

  std::function<app::ChannelSetPtr()> channels_;
  storage::Store& store_;
  crm::EventFeed& feed_;
  std::function<void()> wakeDelivery_;
  std::function<void()> wakeScheduler_;
};

}  // namespace gateway::api
