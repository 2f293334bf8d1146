#include "api/send_handler.h"

#include "crm/profile.h"
#include "crm/render.h"
#include "crm/repository.h"
#include "log/log.h"
#include "scheduler/schedules.h"
#include "util/clock.h"
#include "util/json.h"

namespace gateway::api {

namespace {

http::Response wrapped(int status, const char* key, const std::string& json) {
  return http::Response::json(status, std::string("{\"") + key + "\":" + json + "}");
}

http::Response notFound(const std::string& what, const std::string& id) {
  return http::errorResponse(404, "not_found", "no " + what + " with id " + id);
}

bool hasIdentityOn(const std::vector<crm::Identity>& identities, const std::string& channelId) {
  return std::any_of(identities.begin(), identities.end(),
                     [&](const crm::Identity& i) { return i.channelId == channelId; });
}

// The platforms' rule for a new conversation: the person wrote to this channel before (we
// have their id on it), or the channel reaches people by phone number (WhatsApp) and the
// contact has one. Null when it may start, else why not.
const char* startRefusal(const app::RuntimeChannel& channel, const crm::Contact& contact, bool hasIdentity) {
  if (hasIdentity) return nullptr;
  if (channel.traits->canStartFromPhone) return contact.phone ? nullptr : "the contact has no phone number";
  return "the person has to write to this channel first";
}

}  // namespace

SendHandler::SendHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store, crm::EventFeed& feed,
                         std::function<void()> wakeDelivery, std::function<void()> wakeScheduler)
    : channels_(std::move(channels)),
      store_(store),
      feed_(feed),
      wakeDelivery_(std::move(wakeDelivery)),
      wakeScheduler_(std::move(wakeScheduler)) {}

void SendHandler::addRoutes(http::Router& router, const std::function<http::Handler(http::Handler)>& guard) {
  auto bind = [&](http::Response (SendHandler::*method)(http::Request&)) {
    return guard([this, method](http::Request& r) { return (this->*method)(r); });
  };
  router.add("POST", "/v1/conversations/{id}/messages", "message_send", bind(&SendHandler::sendMessage));
  router.add("POST", "/v1/conversations/{id}/scheduled-messages", "schedule_create", bind(&SendHandler::createSchedule));
  router.add("GET", "/v1/conversations/{id}/scheduled-messages", "schedules_conversation",
             bind(&SendHandler::listConversationSchedules));
  router.add("GET", "/v1/contacts/{id}/scheduled-messages", "schedules_contact", bind(&SendHandler::listContactSchedules));
  router.add("DELETE", "/v1/scheduled-messages/{id}", "schedule_cancel", bind(&SendHandler::cancelSchedule));
  router.add("GET", "/v1/contacts/{id}/available-channels", "channels_available", bind(&SendHandler::availableChannels));
  router.add("POST", "/v1/contacts/{id}/conversations", "conversation_start", bind(&SendHandler::startConversation));
}

http::Response SendHandler::sendMessage(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  std::string error;
  const auto body = delivery::parseSendBody(request.body, error);
  if (!body) return http::errorResponse(400, "invalid_request", error);
  std::optional<std::string> key;
  if (const std::string k = request.header("idempotency-key"); !k.empty()) {
    if (k.size() > 200) return http::errorResponse(400, "invalid_request", "Idempotency-Key is longer than 200 characters");
    key = k;
  }
  // The 202 (or the refusal the rules give) goes out from the store's notifier thread once
  // the accept is committed, while this connection's thread goes back to reading (http::Reply).
  auto accepted = std::make_shared<delivery::Accepted>();
  store_.write(
      [accepted, set = channels_(), id, body = std::move(*body), key](storage::Tx& tx) {
        *accepted = delivery::acceptSend(tx, *set, id, body, key, util::nowMs());
      },
      [this, accepted, reply = request.answerLater()](std::exception_ptr error) {
        reply(answerSend(*accepted, error));
      });
  return http::Response::later();
}

http::Response SendHandler::answerSend(const delivery::Accepted& accepted, const std::exception_ptr& error) noexcept {
  try {
    if (error) std::rethrow_exception(error);
    if (!accepted.message) return http::errorResponse(accepted.httpStatus, accepted.errorCode, accepted.errorMessage);
    if (accepted.lastEventSeq > 0) feed_.published(accepted.lastEventSeq);
    if (!accepted.replayed) wakeDelivery_();
    return wrapped(202, "message",
                   accepted.messageJson.empty() ? crm::renderMessage(*accepted.message) : accepted.messageJson);
  } catch (const std::exception& e) {
    log::get("api")->error("api.send_failed error={}", e.what());  // nothing was accepted
  } catch (...) {
  }
  return http::errorResponse(500, "internal", "internal error");
}

http::Response SendHandler::createSchedule(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  static const char* const kScheduleKeys[] = {"send_at", nullptr};
  std::string error;
  const auto body = delivery::parseSendBody(request.body, error, kScheduleKeys);
  if (!body) return http::errorResponse(400, "invalid_request", error);
  rapidjson::Document doc;
  util::parseJson(request.body, doc);
  const auto sendAt = doc.FindMember("send_at");
  std::int64_t at = 0;
  if (sendAt == doc.MemberEnd() || !sendAt->value.IsString() || !util::parseRfc3339(sendAt->value.GetString(), at)) {
    return http::errorResponse(400, "invalid_request", "send_at must be an RFC 3339 time, e.g. 2026-11-25T19:30:00.000Z");
  }
  std::optional<scheduler::Schedule> created;
  std::int64_t seq = 0;
  store_.write([&](storage::Tx& tx) {
    created.reset();  // from scratch on every run (see Store::write)
    const auto conversation = crm::findConversation(tx, id);
    if (!conversation) return;
    scheduler::Schedule s;
    s.id = crm::newId("sm_");
    s.conversationId = id;
    s.contactId = conversation->contactId;
    s.sendAt = at;
    s.request = body->toJson();
    s.text = body->text ? body->text : body->attachmentCaption;
    s.templateJson = body->templateJson;
    s.createdAt = s.updatedAt = util::nowMs();
    scheduler::insertSchedule(tx, s);
    seq = crm::appendEvent(tx, "scheduled_message.updated", s.createdAt, scheduler::renderSchedule(s));
    created = std::move(s);
  }).get();
  if (!created) return notFound("conversation", id);
  feed_.published(seq);
  wakeScheduler_();
  return wrapped(201, "scheduled_message", scheduler::renderSchedule(*created));
}

http::Response SendHandler::listSchedules(http::Request& request, const char* field, const char* what) {
  const std::string& id = request.pathParams["id"];
  const std::string status = request.queryParam("status").value_or("");
  if (!status.empty() && status != "pending" && status != "sent" && status != "failed" && status != "cancelled") {
    return http::errorResponse(400, "invalid_request", "status must be pending, sent, failed or cancelled");
  }
  std::optional<std::string> body;
  store_.read([&](storage::Tx& tx) {
    const bool exists = std::string(what) == "contact" ? crm::findContact(tx, id).has_value()
                                                       : crm::findConversation(tx, id).has_value();
    if (!exists) return;
    util::JsonWriter w;
    w.startObject().key("scheduled_messages").startArray();
    for (const auto& s : scheduler::listSchedules(tx, field, id, status, 1000)) w.raw(scheduler::renderSchedule(s));
    w.endArray().endObject();
    body = w.str();
  });
  return body ? http::Response::json(200, *body) : notFound(what, id);
}

http::Response SendHandler::listContactSchedules(http::Request& request) {
  return listSchedules(request, "contact_id", "contact");
}

http::Response SendHandler::listConversationSchedules(http::Request& request) {
  return listSchedules(request, "conversation_id", "conversation");
}

http::Response SendHandler::cancelSchedule(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  std::optional<scheduler::Schedule> found;
  bool cancelled = false;
  std::int64_t seq = 0;
  // On the single writer, like the scheduler's firing: a schedule is either cancelled
  // before it fires (and then never sent) or has fired (and then cannot be cancelled).
  store_.write([&](storage::Tx& tx) {
    cancelled = false;  // from scratch on every run (see Store::write)
    seq = 0;
    found = scheduler::findSchedule(tx, id);
    if (found) cancelled = scheduler::cancelSchedule(tx, *found, util::nowMs(), seq);
    if (cancelled) {
      if (const auto conversation = crm::findConversation(tx, found->conversationId)) {
        const std::string text = "Scheduled message for " + util::formatRfc3339(found->sendAt) + " cancelled";
        seq = crm::appendSystemMessage(tx, *conversation, crm::kSystemScheduledCancelled, text, util::nowMs(),
                                       "{\"scheduled_message_id\":\"" + found->id + "\"}")
                  .eventSeq;
      }
    }
  }).get();
  if (!found) return notFound("scheduled message", id);
  if (!cancelled) {
    return http::errorResponse(409, "not_pending", "the scheduled message is already " + found->status);
  }
  feed_.published(seq);
  wakeScheduler_();
  return wrapped(200, "scheduled_message", scheduler::renderSchedule(*found));
}

http::Response SendHandler::availableChannels(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  const app::ChannelSetPtr set = channels_();
  std::optional<std::string> body;
  store_.read([&](storage::Tx& tx) {
    const auto contact = crm::findContact(tx, id);
    if (!contact) return;
    const auto identities = crm::identitiesOf(tx, id);
    const auto conversations = crm::conversationsOf(tx, id);
    util::JsonWriter w;
    w.startObject().key("channels").startArray();
    for (const app::RuntimeChannel& c : set->channels) {
      const bool open = std::any_of(conversations.begin(), conversations.end(),
                                    [&](const crm::Conversation& v) { return v.channelId == c.config.id; });
      if (open || startRefusal(c, *contact, hasIdentityOn(identities, c.config.id)) != nullptr) continue;
      w.startObject().field("id", c.config.id).field("type", c.config.type).field("enabled", c.config.enabled).endObject();
    }
    w.endArray().endObject();
    body = w.str();
  });
  return body ? http::Response::json(200, *body) : notFound("contact", id);
}

http::Response SendHandler::startConversation(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  rapidjson::Document doc;
  if (!util::parseJson(request.body, doc) || !doc.IsObject() || !doc.HasMember("channel_id") ||
      !doc["channel_id"].IsString()) {
    return http::errorResponse(400, "invalid_request", "body must be {\"channel_id\": \"...\"}");
  }
  const std::string channelId = doc["channel_id"].GetString();
  const app::ChannelSetPtr set = channels_();
  const app::RuntimeChannel* channel = set->findById(channelId);
  if (channel == nullptr) return http::errorResponse(404, "not_found", "no channel with id " + channelId);
  if (!channel->config.enabled) return http::errorResponse(409, "channel_disabled", "channel " + channelId + " is disabled");

  http::Response response = notFound("contact", id);
  std::int64_t seq = 0;
  store_.write([&](storage::Tx& tx) {
    response = notFound("contact", id);  // from scratch on every run (see Store::write)
    seq = 0;
    const auto contact = crm::findContact(tx, id);
    if (!contact) return;
    if (crm::findConversationFor(tx, id, channelId)) {
      response = http::errorResponse(409, "conversation_exists", "the contact already has a conversation on " + channelId);
      return;
    }
    const std::int64_t now = util::nowMs();
    const bool hasIdentity = hasIdentityOn(crm::identitiesOf(tx, id), channelId);
    if (const char* refusal = startRefusal(*channel, *contact, hasIdentity)) {
      response = http::errorResponse(409, "no_identity", refusal);
      return;
    }
    if (!hasIdentity) {
      // WhatsApp addresses a person by their number: the phone without '+'.
      const std::string waId = contact->phone->substr(contact->phone->front() == '+' ? 1 : 0);
      if (!crm::insertIdentity(tx, id, crm::Identity{channelId, channel->traits->userIdKind, waId}, now)) {
        response = http::errorResponse(409, "conversation_exists", "another contact already has this number on " + channelId);
        return;
      }
    }
    crm::Conversation c;
    c.id = crm::newId("cv_");
    c.contactId = id;
    c.channelId = channelId;
    c.createdAt = now;
    crm::insertConversation(tx, c);
    const std::string json = crm::renderConversation(*set, c, contact->blocked, now);
    crm::appendEvent(tx, "conversation.created", now, json);
    seq = crm::appendSystemMessage(tx, c, crm::kSystemConversationStarted, "Conversation started", now).eventSeq;
    response = wrapped(201, "conversation", json);
  }).get();
  if (seq > 0) feed_.published(seq);
  return response;
}

}  // namespace gateway::api
