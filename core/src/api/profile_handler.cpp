#include "api/profile_handler.h"

#include "crm/profile.h"
#include "util/clock.h"
#include "util/json.h"

namespace gateway::api {

namespace {

constexpr std::size_t kMaxNoteBytes = 10000;

http::Response invalid(const std::string& message) { return http::errorResponse(400, "invalid_request", message); }

// Parses the request body as JSON; an error response when it is not a JSON object.
std::optional<http::Response> parseBody(const http::Request& request, rapidjson::Document& doc) {
  if (request.body.empty()) return invalid("the body must be a JSON object");
  if (!util::parseJson(request.body, doc)) return invalid("the body is not valid JSON");
  if (!doc.IsObject()) return invalid("the body must be a JSON object");
  return std::nullopt;
}

// A body whose only field is `name`, a string (non-empty unless allowEmpty); `wrongValue`
// says what it must be. An error response for any other field, a wrong value, or none.
std::optional<http::Response> readOnlyStringField(const rapidjson::Document& body, const std::string& name,
                                                  bool allowEmpty, const std::string& wrongValue, std::string& out) {
  bool seen = false;
  for (const auto& member : body.GetObject()) {
    const std::string key(member.name.GetString(), member.name.GetStringLength());
    if (key != name) return invalid("unknown field " + key + " (expected " + name + ")");
    if (!member.value.IsString() || (!allowEmpty && member.value.GetStringLength() == 0)) return invalid(wrongValue);
    out.assign(member.value.GetString(), member.value.GetStringLength());
    seen = true;
  }
  if (!seen) return invalid(name + " is required");
  return std::nullopt;
}

}  // namespace

ProfileHandler::ProfileHandler(std::function<app::ChannelSetPtr()> channels, storage::Store& store,
                               crm::EventFeed& feed)
    : channels_(std::move(channels)), store_(store), feed_(feed) {}

void ProfileHandler::addRoutes(http::Router& router, const std::function<http::Handler(http::Handler)>& guard) {
  auto bind = [this, &guard](http::Response (ProfileHandler::*method)(http::Request&)) {
    return guard([this, method](http::Request& request) { return (this->*method)(request); });
  };
  router.add("POST", "/v1/contacts", "contact_create", bind(&ProfileHandler::createContact));
  router.add("PATCH", "/v1/contacts/{id}", "contact_edit", bind(&ProfileHandler::editContact));
  router.add("POST", "/v1/contacts/{id}/merge", "contact_merge", bind(&ProfileHandler::mergeContacts));
  router.add("PUT", "/v1/conversations/{id}/tags", "conversation_tags", bind(&ProfileHandler::setTags));
  router.add("POST", "/v1/conversations/{id}/notes", "note_create", bind(&ProfileHandler::addNote));
}

namespace {

// Runs a profile write on the store's single writer (so read-modify-write of one record is
// serialized with every other write), wakes the events feed after the commit, and maps the
// outcome to HTTP.
http::Response commit(storage::Store& store, crm::EventFeed& feed, int okStatus, const char* wrapper,
                      const std::function<crm::WriteResult(storage::Tx&)>& job) {
  crm::WriteResult result;
  store.write([&](storage::Tx& tx) { result = job(tx); }).get();
  if (result.error) return http::errorResponse(result.error->status, result.error->code, result.error->message);
  if (result.lastEventSeq > 0) feed.published(result.lastEventSeq);
  return http::Response::json(okStatus, std::string("{\"") + wrapper + "\":" + result.json + "}");
}

}  // namespace

http::Response ProfileHandler::createContact(http::Request& request) {
  rapidjson::Document body;
  if (auto bad = parseBody(request, body)) return *bad;
  crm::ContactEdit edit;
  if (auto e = crm::parseContactEdit(body, edit)) return http::errorResponse(e->status, e->code, e->message);
  const app::ChannelSetPtr set = channels_();
  const std::int64_t now = util::nowMs();
  return commit(store_, feed_, 201, "contact",
                [&](storage::Tx& tx) { return crm::createContact(tx, *set, edit, now); });
}

http::Response ProfileHandler::editContact(http::Request& request) {
  const std::string id = request.pathParams["id"];
  rapidjson::Document body;
  if (auto bad = parseBody(request, body)) return *bad;
  crm::ContactEdit edit;
  if (auto e = crm::parseContactEdit(body, edit)) return http::errorResponse(e->status, e->code, e->message);
  // The property definitions of the config in force now: a SIGHUP applies to later writes.
  const app::ChannelSetPtr set = channels_();
  const std::int64_t now = util::nowMs();
  return commit(store_, feed_, 200, "contact",
                [&](storage::Tx& tx) { return crm::editContact(tx, *set, id, edit, now); });
}

http::Response ProfileHandler::mergeContacts(http::Request& request) {
  const std::string id = request.pathParams["id"];
  rapidjson::Document body;
  if (auto bad = parseBody(request, body)) return *bad;
  std::string from;
  if (auto bad = readOnlyStringField(body, "from", false, "from must be the id of another contact", from)) return *bad;
  const app::ChannelSetPtr set = channels_();
  const std::int64_t now = util::nowMs();
  return commit(store_, feed_, 200, "contact",
                [&](storage::Tx& tx) { return crm::mergeContacts(tx, *set, id, from, now); });
}

http::Response ProfileHandler::setTags(http::Request& request) {
  const std::string id = request.pathParams["id"];
  rapidjson::Document body;
  if (auto bad = parseBody(request, body)) return *bad;
  std::vector<std::string> tags;
  if (auto e = crm::parseTags(body, tags)) return http::errorResponse(e->status, e->code, e->message);
  const app::ChannelSetPtr set = channels_();
  const std::int64_t now = util::nowMs();
  return commit(store_, feed_, 200, "conversation",
                [&](storage::Tx& tx) { return crm::setTags(tx, *set, id, tags, now); });
}

http::Response ProfileHandler::addNote(http::Request& request) {
  const std::string id = request.pathParams["id"];
  rapidjson::Document body;
  if (auto bad = parseBody(request, body)) return *bad;
  std::string text;
  if (auto bad = readOnlyStringField(body, "text", true, "text must be a string", text)) return *bad;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return invalid("text must not be empty");
  if (text.size() > kMaxNoteBytes) return invalid("text must be at most " + std::to_string(kMaxNoteBytes) + " bytes");
  const std::int64_t now = util::nowMs();
  return commit(store_, feed_, 201, "message", [&](storage::Tx& tx) { return crm::addNote(tx, id, text, now); });
}

}  // namespace gateway::api
