#include "crm/profile.h"

#include <algorithm>
#include <map>
#include <set>

#include "crm/render.h"
#include "crm/repository.h"
#include "util/json.h"

namespace gateway::crm {

using storage::Null;
using storage::Tx;
using storage::Value;

namespace {

constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxPropertyTextBytes = 2000;
constexpr std::size_t kMaxTagBytes = 64;
constexpr std::size_t kMaxTags = 50;

ApiError badRequest(const std::string& message) { return ApiError{400, "invalid_request", message}; }
ApiError notFound(const std::string& what, const std::string& id) {
  return ApiError{404, "not_found", "no " + what + " with id " + id};
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

bool hasControl(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string str(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// A nullable text field: null or a string; trimmed, an empty string clears it.
MaybeError textField(const std::string& key, const rapidjson::Value& v, std::size_t maxBytes, OptString& out) {
  if (v.IsNull()) {
    out.reset();
    return std::nullopt;
  }
  if (!v.IsString()) return badRequest(key + " must be a string or null");
  const std::string text = trim(str(v));
  if (text.size() > maxBytes) return badRequest(key + " must be at most " + std::to_string(maxBytes) + " bytes");
  if (hasControl(text)) return badRequest(key + " must not contain control characters");
  out = text.empty() ? OptString{} : OptString{text};
  return std::nullopt;
}

std::string lowerAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A stored JSON object (properties, extra); an empty object when the text is not one.
rapidjson::Document parseObject(const std::string& json) {
  rapidjson::Document doc;
  if (!util::parseJson(json, doc) || !doc.IsObject()) doc.SetObject();
  return doc;
}

const config::PropertyDef* findDef(const config::GatewayConfig& config, const std::string& key) {
  for (const config::PropertyDef& def : config.properties) {
    if (def.key == key) return &def;
  }
  return nullptr;
}

// Applies property edits onto the stored object; nothing is changed when one is refused.
MaybeError applyProperties(const config::GatewayConfig& config,
                           const std::vector<std::pair<std::string, std::string>>& edits,
                           rapidjson::Document& stored) {
  rapidjson::Document next;
  next.CopyFrom(stored, next.GetAllocator());
  for (const auto& [key, json] : edits) {
    rapidjson::Document value;
    util::parseJson(json, value);  // produced by util::toJson from a parsed value
    const config::PropertyDef* def = findDef(config, key);
    const bool storedHasKey = next.HasMember(key.c_str());
    if (value.IsNull()) {
      // null clears; also a value kept from a definition a SIGHUP removed.
      if (!def && !storedHasKey) {
        return ApiError{422, "unknown_property", "properties." + key + ": no property " + key + " is defined"};
      }
      if (storedHasKey) next.RemoveMember(key.c_str());
      continue;
    }
    if (!def) return ApiError{422, "unknown_property", "properties." + key + ": no property " + key + " is defined"};
    if (MaybeError e = checkPropertyValue(*def, value)) return e;
    rapidjson::Value copy(value, next.GetAllocator());
    if (storedHasKey) {
      next[key.c_str()] = copy;
    } else {
      next.AddMember(rapidjson::Value(key.c_str(), next.GetAllocator()), copy, next.GetAllocator());
    }
  }
  stored.Swap(next);
  return std::nullopt;
}

std::vector<std::string> stringsOf(const std::string& jsonArray) {
  std::vector<std::string> out;
  rapidjson::Document doc;
  if (!util::parseJson(jsonArray, doc) || !doc.IsArray()) return out;
  for (const auto& v : doc.GetArray()) {
    if (v.IsString()) out.push_back(str(v));
  }
  return out;
}

std::string jsonArrayOf(const std::vector<std::string>& values) {
  util::JsonWriter w;
  w.startArray();
  for (const std::string& v : values) w.string(v);
  w.endArray();
  return w.str();
}

// The lead's outbound tables refer to conversations: they follow a merged conversation.
void moveOutboundRefs(Tx& tx, const std::string& from, const std::string& into, const std::string& contactId) {
  tx.exec("UPDATE outbox SET conversation_id = ? WHERE conversation_id = ?", {into, from});
  tx.exec("UPDATE scheduled_messages SET conversation_id = ?, contact_id = ? WHERE conversation_id = ?",
          {into, contactId, from});
  // An idempotency key used in both conversations keeps the survivor's message.
  tx.exec("UPDATE idempotency_keys SET conversation_id = ? WHERE conversation_id = ? AND key NOT IN "
          "(SELECT key FROM idempotency_keys WHERE conversation_id = ?)",
          {into, from, into});
  tx.exec("DELETE FROM idempotency_keys WHERE conversation_id = ?", {from});
}

std::string displayName(const Contact& c) {
  if (c.name) return *c.name;
  if (c.phone) return *c.phone;
  if (c.email) return *c.email;
  return c.id;
}

}  // namespace

// --- Field checks ------------------------------------------------------------------------

std::optional<std::string> normalizePhone(const std::string& text) {
  std::string s = trim(text);
  // "+44 (0)20 ..." writes the national trunk prefix next to the country code; E.164 drops it.
  for (std::size_t at; (at = s.find("(0)")) != std::string::npos;) s.erase(at, 3);
  std::size_t i = 0;
  if (s.compare(0, 1, "+") == 0) i = 1;
  else if (s.compare(0, 2, "00") == 0) i = 2;
  else return std::nullopt;
  std::string digits;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') digits += c;
    else if (c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')') continue;
    else return std::nullopt;
  }
  if (digits.size() < 7 || digits.size() > 15 || digits[0] == '0') return std::nullopt;
  return "+" + digits;
}

bool isValidEmail(const std::string& text) {
  if (text.size() > 254 || hasControl(text)) return false;
  const auto at = text.find('@');
  if (at == std::string::npos || at == 0 || at > 64 || text.find('@', at + 1) != std::string::npos) return false;
  const std::string local = text.substr(0, at);
  const std::string domain = text.substr(at + 1);
  static const std::string kLocalSpecials = "!#$%&'*+/=?^_`{|}~.-";
  for (char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || u >= 0x80 || kLocalSpecials.find(c) != std::string::npos)) return false;
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string::npos) return false;
  // Domain: at least two labels of letters, digits and inner hyphens.
  std::size_t labels = 0;
  std::size_t start = 0;
  for (;;) {
    const auto dot = domain.find('.', start);
    const std::string label = domain.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      const auto u = static_cast<unsigned char>(c);
      if (!(std::isalnum(u) || u >= 0x80 || c == '-')) return false;
    }
    ++labels;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

bool isValidDate(const std::string& t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (t[i] < '0' || t[i] > '9') return false;
  }
  const int year = std::stoi(t.substr(0, 4));
  const int month = std::stoi(t.substr(5, 2));
  const int day = std::stoi(t.substr(8, 2));
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

MaybeError checkPropertyValue(const config::PropertyDef& def, const rapidjson::Value& value) {
  const std::string where = "properties." + def.key + ": ";
  switch (def.type) {
    case config::PropertyType::kText:
      if (!value.IsString()) return ApiError{422, "invalid_property", where + "must be text (a string)"};
      if (value.GetStringLength() > kMaxPropertyTextBytes) {
        return ApiError{422, "invalid_property",
                        where + "must be at most " + std::to_string(kMaxPropertyTextBytes) + " bytes"};
      }
      return std::nullopt;
    case config::PropertyType::kNumber:
      if (!value.IsNumber()) return ApiError{422, "invalid_property", where + "must be a number"};
      return std::nullopt;
    case config::PropertyType::kBoolean:
      if (!value.IsBool()) return ApiError{422, "invalid_property", where + "must be true or false"};
      return std::nullopt;
    case config::PropertyType::kDate:
      if (!value.IsString() || !isValidDate(str(value))) {
        return ApiError{422, "invalid_property", where + "must be a date written YYYY-MM-DD"};
      }
      return std::nullopt;
  }
  return ApiError{422, "invalid_property", where + "has an unknown type"};
}

MaybeError parseContactEdit(const rapidjson::Value& body, ContactEdit& out) {
  if (!body.IsObject()) return badRequest("the body must be a JSON object");
  for (const auto& member : body.GetObject()) {
    const std::string key = str(member.name);
    const rapidjson::Value& v = member.value;
    if (key == "name" || key == "company") {
      OptString value;
      if (MaybeError e = textField(key, v, kMaxNameBytes, value)) return e;
      (key == "name" ? out.name : out.company) = value;
    } else if (key == "phone") {
      OptString value;
      if (MaybeError e = textField(key, v, kMaxNameBytes, value)) return e;
      if (value) {
        value = normalizePhone(*value);
        if (!value) {
          return badRequest("phone must be an international number with country code, like +4930123456");
        }
      }
      out.phone = value;
    } else if (key == "email") {
      OptString value;
      if (MaybeError e = textField(key, v, 254, value)) return e;
      if (value) {
        if (!isValidEmail(*value)) return badRequest("email is not a valid email address");
        const auto at = value->find('@');
        value = value->substr(0, at) + lowerAscii(value->substr(at));
      }
      out.email = value;
    } else if (key == "blocked") {
      if (!v.IsBool()) return badRequest("blocked must be true or false");
      out.blocked = v.GetBool();
    } else if (key == "properties") {
      if (!v.IsObject()) return badRequest("properties must be an object");
      for (const auto& p : v.GetObject()) out.properties.emplace_back(str(p.name), util::toJson(p.value));
    } else {
      return badRequest("unknown field " + key + " (writable: name, phone, email, company, blocked, properties)");
    }
  }
  return std::nullopt;
}

// --- Contacts ----------------------------------------------------------------------------

WriteResult createContact(Tx& tx, const app::ChannelSet& channels, const ContactEdit& edit, std::int64_t now) {
  WriteResult result;
  const auto has = [](const std::optional<OptString>& f) { return f && *f; };
  if (!has(edit.name) && !has(edit.phone) && !has(edit.email) && !has(edit.company)) {
    result.error = badRequest("a contact needs at least one of name, phone, email, company");
    return result;
  }
  Contact c;
  c.id = newId("ct_");
  if (edit.name) c.name = *edit.name;
  if (edit.phone) c.phone = *edit.phone;
  if (edit.email) c.email = *edit.email;
  if (edit.company) c.company = *edit.company;
  c.blocked = edit.blocked.value_or(false);
  rapidjson::Document properties(rapidjson::kObjectType);
  if ((result.error = applyProperties(*channels.config, edit.properties, properties))) return result;
  c.properties = util::toJson(properties);
  c.createdAt = c.updatedAt = now;
  insertContact(tx, c);
  result.json = renderContact(tx, channels, c, now);
  result.lastEventSeq = appendEvent(tx, "contact.created", now, result.json);
  return result;
}

WriteResult editContact(Tx& tx, const app::ChannelSet& channels, const std::string& contactId,
                        const ContactEdit& edit, std::int64_t now) {
  WriteResult result;
  std::optional<Contact> found = findContact(tx, contactId);
  if (!found) {
    result.error = notFound("contact", contactId);
    return result;
  }
  const Contact before = *found;
  Contact c = *found;
  if (edit.name) c.name = *edit.name;
  if (edit.phone) c.phone = *edit.phone;
  if (edit.email) c.email = *edit.email;
  if (edit.company) c.company = *edit.company;
  if (edit.blocked) c.blocked = *edit.blocked;
  rapidjson::Document properties = parseObject(c.properties);
  if ((result.error = applyProperties(*channels.config, edit.properties, properties))) return result;
  c.properties = util::toJson(properties);

  const bool changed = c.name != before.name || c.phone != before.phone || c.email != before.email ||
                       c.company != before.company || c.blocked != before.blocked ||
                       c.properties != before.properties;
  if (!changed) {  // nothing to record: no event, updated_at stays
    result.json = renderContact(tx, channels, c, now);
    return result;
  }
  c.updatedAt = now;
  updateContact(tx, c);
  result.json = renderContact(tx, channels, c, now);
  result.lastEventSeq = appendEvent(tx, "contact.updated", now, result.json);

  // What the activity of each conversation records about the contact.
  const std::vector<Conversation> conversations = conversationsOf(tx, c.id);
  for (const Conversation& conv : conversations) {
    if (c.blocked != before.blocked) {
      result.lastEventSeq =
          appendSystemMessage(tx, conv, c.blocked ? kSystemContactBlocked : kSystemContactUnblocked,
                              c.blocked ? "Contact blocked" : "Contact unblocked", now)
              .eventSeq;
    }
    if (c.phone != before.phone) {
      util::JsonWriter extra;
      extra.startObject().field("from", before.phone).field("to", c.phone).endObject();
      const std::string text = !c.phone      ? "Phone number removed (was " + *before.phone + ")"
                               : !before.phone ? "Phone number set to " + *c.phone
                                               : "Phone number changed from " + *before.phone + " to " + *c.phone;
      result.lastEventSeq = appendSystemMessage(tx, conv, kSystemPhoneChanged, text, now, extra.str()).eventSeq;
    }
  }
  return result;
}

WriteResult mergeContacts(Tx& tx, const app::ChannelSet& channels, const std::string& survivorId,
                          const std::string& otherId, std::int64_t now) {
  WriteResult result;
  if (survivorId == otherId) {
    result.error = badRequest("from must be another contact than the one merged into");
    return result;
  }
  std::optional<Contact> survivor = findContact(tx, survivorId);
  if (!survivor) {
    result.error = notFound("contact", survivorId);
    return result;
  }
  const std::optional<Contact> other = findContact(tx, otherId);
  if (!other) {
    result.error = notFound("contact", otherId + " (from)");
    return result;
  }
  Contact& s = *survivor;
  const bool wasBlocked = s.blocked;

  tx.exec("UPDATE identities SET contact_id = ? WHERE contact_id = ?", {s.id, other->id});

  std::map<std::string, Conversation> byChannel;
  for (Conversation& conv : conversationsOf(tx, s.id)) byChannel[conv.channelId] = conv;
  std::vector<std::pair<std::string, std::string>> merged;  // from -> into
  for (const Conversation& from : conversationsOf(tx, other->id)) {
    const auto into = byChannel.find(from.channelId);
    if (into == byChannel.end()) {
      // The only conversation on its channel: it moves over as it is.
      tx.exec("UPDATE conversations SET contact_id = ? WHERE id = ?", {s.id, from.id});
      tx.exec("UPDATE messages SET contact_id = ? WHERE conversation_id = ?", {s.id, from.id});
      tx.exec("UPDATE scheduled_messages SET contact_id = ? WHERE conversation_id = ?", {s.id, from.id});
      continue;
    }
    // Two conversations on one channel: one activity. The messages move into the
    // survivor's conversation, the window keeps the newest inbound, tags are united, and
    // the emptied conversation is deleted.
    Conversation& target = into->second;
    tx.exec("UPDATE messages SET conversation_id = ?, contact_id = ? WHERE conversation_id = ?",
            {target.id, s.id, from.id});
    moveOutboundRefs(tx, from.id, target.id, s.id);
    std::vector<std::string> tags = stringsOf(target.tags);
    for (const std::string& tag : stringsOf(from.tags)) {
      if (std::find(tags.begin(), tags.end(), tag) == tags.end() && tags.size() < kMaxTags) tags.push_back(tag);
    }
    target.tags = jsonArrayOf(tags);
    if (from.lastInboundAt && (!target.lastInboundAt || *target.lastInboundAt < *from.lastInboundAt)) {
      target.lastInboundAt = from.lastInboundAt;
    }
    target.createdAt = std::min(target.createdAt, from.createdAt);
    tx.exec("UPDATE conversations SET tags = ?, last_inbound_at = ?, created_at = ? WHERE id = ?",
            {target.tags, target.lastInboundAt ? Value(*target.lastInboundAt) : Value(Null{}), target.createdAt,
             target.id});
    tx.exec("DELETE FROM conversations WHERE id = ?", {from.id});
    merged.emplace_back(from.id, target.id);
  }

  // The survivor's values win; the other fills what the survivor lacks. Blocked wins.
  if (!s.name) s.name = other->name;
  if (!s.phone) s.phone = other->phone;
  if (!s.email) s.email = other->email;
  if (!s.company) s.company = other->company;
  s.blocked = s.blocked || other->blocked;
  rapidjson::Document properties = parseObject(s.properties);
  const rapidjson::Document otherProperties = parseObject(other->properties);
  for (const auto& p : otherProperties.GetObject()) {
    if (properties.HasMember(p.name)) continue;
    properties.AddMember(rapidjson::Value(p.name, properties.GetAllocator()),
                         rapidjson::Value(p.value, properties.GetAllocator()), properties.GetAllocator());
  }
  s.properties = util::toJson(properties);
  s.createdAt = std::min(s.createdAt, other->createdAt);
  s.updatedAt = now;
  tx.exec("DELETE FROM contacts WHERE id = ?", {other->id});
  updateContact(tx, s);
  tx.exec("UPDATE contacts SET created_at = ? WHERE id = ?", {s.createdAt, s.id});

  for (const Conversation& conv : conversationsOf(tx, s.id)) {
    util::JsonWriter extra;
    extra.startObject().field("merged_from", other->id).endObject();
    result.lastEventSeq = appendSystemMessage(tx, conv, kSystemContactMerged,
                                              "Merged with contact " + displayName(*other), now, extra.str())
                              .eventSeq;
    if (s.blocked && !wasBlocked) {
      result.lastEventSeq = appendSystemMessage(tx, conv, kSystemContactBlocked,
                                                "Contact blocked (the merged contact was blocked)", now)
                                .eventSeq;
    }
  }

  result.json = renderContact(tx, channels, s, now);
  util::JsonWriter data;
  data.startObject().key("contact").raw(result.json).field("merged_from", other->id);
  data.key("conversations_merged").startArray();
  for (const auto& [from, into] : merged) data.startObject().field("from", from).field("into", into).endObject();
  data.endArray().endObject();
  result.lastEventSeq = appendEvent(tx, "contact.merged", now, data.str());
  return result;
}

// --- Conversations -----------------------------------------------------------------------

MaybeError parseTags(const rapidjson::Value& body, std::vector<std::string>& out) {
  if (!body.IsObject()) return badRequest("the body must be a JSON object");
  for (const auto& member : body.GetObject()) {
    if (str(member.name) != "tags") return badRequest("unknown field " + str(member.name) + " (expected tags)");
  }
  const auto tags = body.FindMember("tags");
  if (tags == body.MemberEnd()) return badRequest("tags is required");
  if (!tags->value.IsArray()) return badRequest("tags must be an array of strings");
  out.clear();
  std::size_t index = 0;
  for (const auto& v : tags->value.GetArray()) {
    const std::string where = "tags[" + std::to_string(index++) + "]";
    if (!v.IsString()) return badRequest(where + " must be a string");
    const std::string tag = trim(str(v));
    if (tag.empty() || tag.size() > kMaxTagBytes || hasControl(tag)) {
      return badRequest(where + " must be 1 to " + std::to_string(kMaxTagBytes) +
                        " bytes of text without control characters");
    }
    if (std::find(out.begin(), out.end(), tag) == out.end()) out.push_back(tag);
  }
  if (out.size() > kMaxTags) return badRequest("tags: at most " + std::to_string(kMaxTags) + " tags");
  return std::nullopt;
}

WriteResult setTags(Tx& tx, const app::ChannelSet& channels, const std::string& conversationId,
                    const std::vector<std::string>& tags, std::int64_t now) {
  WriteResult result;
  std::optional<Conversation> conv = findConversation(tx, conversationId);
  if (!conv) {
    result.error = notFound("conversation", conversationId);
    return result;
  }
  const std::optional<Contact> contact = findContact(tx, conv->contactId);
  const std::string next = jsonArrayOf(tags);
  if (next != conv->tags) {
    conv->tags = next;
    tx.exec("UPDATE conversations SET tags = ? WHERE id = ?", {conv->tags, conv->id});
    if (contact) {
      // The contract has no conversation.updated; the contact's conversations carry the tags.
      result.lastEventSeq =
          appendEvent(tx, "contact.updated", now, renderContact(tx, channels, *contact, now));
    }
  }
  result.json = renderConversation(channels, *conv, contact && contact->blocked, now);
  return result;
}

WriteResult addNote(Tx& tx, const std::string& conversationId, const std::string& text, std::int64_t now) {
  WriteResult result;
  const std::optional<Conversation> conv = findConversation(tx, conversationId);
  if (!conv) {
    result.error = notFound("conversation", conversationId);
    return result;
  }
  Message m;
  m.id = newId("msg_");
  m.conversationId = conv->id;
  m.contactId = conv->contactId;
  m.channelId = conv->channelId;
  m.direction = "outbound";
  m.kind = "note";
  m.type = "text";
  m.text = text;
  m.status = "received";  // recorded; a note is never delivered anywhere
  m.occurredAt = m.createdAt = m.updatedAt = now;
  insertMessage(tx, m);
  result.json = renderMessage(m);
  result.lastEventSeq = appendEvent(tx, "message.created", now, result.json);
  return result;
}

AppendedMessage appendSystemMessage(Tx& tx, const Conversation& conversation, const std::string& type,
                                    const std::string& text, std::int64_t now, const std::string& extraJson,
                                    std::optional<std::int64_t> occurredAt) {
  rapidjson::Document extra = parseObject(extraJson);
  extra.RemoveMember("system_type");
  extra.AddMember("system_type", rapidjson::Value(type.c_str(), extra.GetAllocator()), extra.GetAllocator());
  AppendedMessage out;
  Message& m = out.message;
  m.id = newId("msg_");
  m.conversationId = conversation.id;
  m.contactId = conversation.contactId;
  m.channelId = conversation.channelId;
  m.direction = "outbound";
  m.kind = "system";
  m.type = type;
  m.text = text;
  m.status = "received";
  m.extra = util::toJson(extra);
  m.createdAt = m.updatedAt = now;
  m.occurredAt = occurredAt.value_or(now);
  insertMessage(tx, m);
  out.eventSeq = appendEvent(tx, "message.created", now, renderMessage(m));
  return out;
}

}  // namespace gateway::crm
