#include "api/api_handler.h"

#include <chrono>
#include <cstdlib>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <openssl/crypto.h>

#include "crm/render.h"
#include "crm/repository.h"
#include "util/clock.h"
#include "util/json.h"

namespace gateway::api {

namespace {

// Reads an optional whole-number query parameter within [min, max].
std::optional<int> intParam(const http::Request& request, const char* name, int fallback, int min, int max) {
  const auto text = request.queryParam(name);
  if (!text || text->empty()) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text->c_str(), &end, 10);
  if (*end != '\0' || value < min || value > max) return std::nullopt;
  return static_cast<int>(value);
}

http::Response badParam(const char* name, int min, int max) {
  return http::errorResponse(400, "invalid_request", std::string(name) + " must be a whole number from " +
                                                         std::to_string(min) + " to " + std::to_string(max));
}

http::Response notFound(const std::string& what, const std::string& id) {
  return http::errorResponse(404, "not_found", "no " + what + " with id " + id);
}

std::string stringify(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

}  // namespace

ApiHandler::ApiHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store,
                       crm::EventFeed& feed)
    : channels_(std::move(channels)), store_(store), feed_(feed) {}

bool ApiHandler::authorized(const http::Request& request, const config::GatewayConfig& config) {
  static constexpr char kPrefix[] = "Bearer ";
  const std::string header = request.header("authorization");
  if (header.compare(0, sizeof kPrefix - 1, kPrefix) != 0) return false;
  const std::string token = header.substr(sizeof kPrefix - 1);
  bool match = false;
  // Compare against every token in constant time, so timing tells nothing about which matched.
  for (const std::string& t : config.api.tokens) {
    if (!t.empty() && t.size() == token.size() && CRYPTO_memcmp(t.data(), token.data(), t.size()) == 0) {
      match = true;
    }
  }
  return match;
}

http::Handler ApiHandler::requireToken(http::Handler handler) {
  return [this, handler = std::move(handler)](http::Request& request) {
    if (!authorized(request, *channels_()->config)) {
      http::Response r = http::errorResponse(401, "unauthorized", "missing or invalid bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    return handler(request);
  };
}

http::Handler ApiHandler::guarded(http::Response (ApiHandler::*method)(http::Request&)) {
  return requireToken([this, method](http::Request& request) { return (this->*method)(request); });
}

void ApiHandler::addRoutes(http::Router& router) {
  router.add("GET", "/v1/channels", "channels_list", guarded(&ApiHandler::listChannels));
  router.add("GET", "/v1/contacts", "contacts_list", guarded(&ApiHandler::listContacts));
  router.add("GET", "/v1/contacts/{id}", "contact_get", guarded(&ApiHandler::getContact));
  router.add("GET", "/v1/conversations/{id}", "conversation_get", guarded(&ApiHandler::getConversation));
  router.add("GET", "/v1/conversations/{id}/messages", "messages_list", guarded(&ApiHandler::listMessages));
  router.add("GET", "/v1/messages/{id}", "message_get", guarded(&ApiHandler::getMessage));
  router.add("GET", "/v1/events", "events_list", guarded(&ApiHandler::listEvents));
}

http::Response ApiHandler::listChannels(http::Request&) {
  const app::ChannelSetPtr set = channels_();
  Poco::JSON::Array channels;
  for (const app::RuntimeChannel& c : set->channels) {
    Poco::JSON::Object item;
    item.set("id", c.config.id);
    item.set("type", c.config.type);
    item.set("enabled", c.config.enabled);
    item.set("account_id", c.config.accountId);
    channels.add(item);
  }
  Poco::JSON::Object root;
  root.set("channels", channels);
  return http::Response::json(200, stringify(root));
}

http::Response ApiHandler::listContacts(http::Request& request) {
  const auto limit = intParam(request, "limit", 50, 1, 200);
  if (!limit) return badParam("limit", 1, 200);
  const std::string query = request.queryParam("query").value_or("");
  const std::string after = request.queryParam("cursor").value_or("");
  const app::ChannelSetPtr set = channels_();
  const std::int64_t now = util::nowMs();
  util::JsonWriter w;
  store_.read([&](storage::Tx& tx) {
    const std::vector<crm::Contact> contacts = crm::listContacts(tx, query, after, *limit);
    w.startObject().key("contacts").startArray();
    for (const crm::Contact& c : contacts) w.raw(crm::renderContact(tx, *set, c, now));
    w.endArray().key("next_cursor");
    if (static_cast<int>(contacts.size()) == *limit) w.string(contacts.back().id);
    else w.null();
    w.endObject();
  });
  return http::Response::json(200, w.str());
}

http::Response ApiHandler::getContact(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  const app::ChannelSetPtr set = channels_();
  std::optional<std::string> body;
  store_.read([&](storage::Tx& tx) {
    if (auto c = crm::findContact(tx, id)) body = "{\"contact\":" + crm::renderContact(tx, *set, *c, util::nowMs()) + "}";
  });
  return body ? http::Response::json(200, *body) : notFound("contact", id);
}

http::Response ApiHandler::getConversation(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  const app::ChannelSetPtr set = channels_();
  std::optional<std::string> body;
  store_.read([&](storage::Tx& tx) {
    auto conversation = crm::findConversation(tx, id);
    if (!conversation) return;
    const auto contact = crm::findContact(tx, conversation->contactId);
    body = "{\"conversation\":" +
           crm::renderConversation(*set, *conversation, contact && contact->blocked, util::nowMs()) + "}";
  });
  return body ? http::Response::json(200, *body) : notFound("conversation", id);
}

http::Response ApiHandler::listMessages(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  const auto limit = intParam(request, "limit", 50, 1, 200);
  if (!limit) return badParam("limit", 1, 200);
  const std::string kind = request.queryParam("kind").value_or("");
  if (!kind.empty() && kind != "message" && kind != "note" && kind != "system") {
    return http::errorResponse(400, "invalid_request", "kind must be message, note or system");
  }
  const std::string before = request.queryParam("before").value_or("");
  const bool includeSuppressed = request.queryParam("include_suppressed").value_or("") == "true";
  std::optional<std::string> body;
  bool badCursor = false;
  store_.read([&](storage::Tx& tx) {
    if (!crm::findConversation(tx, id)) return;
    if (!before.empty()) {
      const auto anchor = crm::findMessage(tx, before);
      if (!anchor || anchor->conversationId != id) {
        badCursor = true;
        return;
      }
    }
    const auto messages = crm::listMessages(tx, id, kind, includeSuppressed, before, *limit);
    util::JsonWriter w;
    w.startObject().key("messages").startArray();
    for (const crm::Message& m : messages) w.raw(crm::renderMessage(m));
    w.endArray().key("next_cursor");
    if (static_cast<int>(messages.size()) == *limit) w.string(messages.back().id);
    else w.null();
    w.endObject();
    body = w.str();
  });
  if (badCursor) return http::errorResponse(400, "invalid_request", "before is not a message of this conversation");
  return body ? http::Response::json(200, *body) : notFound("conversation", id);
}

http::Response ApiHandler::getMessage(http::Request& request) {
  const std::string& id = request.pathParams["id"];
  std::optional<std::string> body;
  store_.read([&](storage::Tx& tx) {
    if (auto m = crm::findMessage(tx, id)) body = "{\"message\":" + crm::renderMessage(*m) + "}";
  });
  return body ? http::Response::json(200, *body) : notFound("message", id);
}

http::Response ApiHandler::listEvents(http::Request& request) {
  const auto limit = intParam(request, "limit", 100, 1, 1000);
  if (!limit) return badParam("limit", 1, 1000);
  const auto wait = intParam(request, "wait", 0, 0, 60);
  if (!wait) return badParam("wait", 0, 60);
  const std::string cursor = request.queryParam("after").value_or("0");
  char* end = nullptr;
  const long long after = std::strtoll(cursor.c_str(), &end, 10);
  if (cursor.empty() || *end != '\0' || after < 0) {
    return http::errorResponse(400, "invalid_request", "after must be a cursor returned as next_cursor");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*wait);
  std::vector<crm::FeedEvent> events;
  for (;;) {
    store_.read([&](storage::Tx& tx) { events = crm::eventsAfter(tx, after, *limit); });
    if (!events.empty() || std::chrono::steady_clock::now() >= deadline) break;
    if (!feed_.waitBeyond(after, deadline)) break;
  }
  util::JsonWriter w;
  w.startObject().key("events").startArray();
  for (const crm::FeedEvent& e : events) {
    w.startObject()
        .field("id", std::to_string(e.seq))
        .field("type", e.type)
        .field("at", util::formatRfc3339(e.at))
        .key("data")
        .raw(e.data)
        .endObject();
  }
  w.endArray().field("next_cursor", std::to_string(events.empty() ? after : events.back().seq)).endObject();
  return http::Response::json(200, w.str());
}

}  // namespace gateway::api
