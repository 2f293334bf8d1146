// The contact profile's writes: create and edit contacts (validated fields, typed custom
// properties, block), merge two contacts, conversation tags, notes and the gateway's own
// system messages. Every function takes the caller's Tx and writes its events in it, so a
// change and its event commit together; the caller wakes the feed after the commit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "app/channels.h"
#include "config/config.h"
#include "crm/records.h"
#include "storage/store.h"

namespace gateway::crm {

// An expected failure of a profile request: one of the contract's error codes, mapped to
// HTTP once, at the handler edge.
struct ApiError {
  int status = 400;
  std::string code = "invalid_request";
  std::string message;
};
using MaybeError = std::optional<ApiError>;

// What a write produced: an error (nothing written), or the rendered object and the
// sequence number of the last event it appended (0: none).
struct WriteResult {
  MaybeError error;
  std::string json;
  std::int64_t lastEventSeq = 0;
};

// --- Field checks (pure) ---------------------------------------------------------------

// "+<country><number>" with 8 to 15 digits. Accepts spaces, dashes, dots, slashes and
// parentheses between digits and a leading "00" for "+"; empty when it is not an
// international number (a number without country code cannot be made E.164 safely).
std::optional<std::string> normalizePhone(const std::string& text);
// A practical address check: one '@', non-empty local part, a dotted domain of letters,
// digits and hyphens, no spaces, at most 254 characters.
bool isValidEmail(const std::string& text);
// "YYYY-MM-DD" naming a real calendar day.
bool isValidDate(const std::string& text);

// --- Contact edits ---------------------------------------------------------------------

// A parsed PATCH / POST body. Outer optional engaged = the field was sent; an empty inner
// value = null (clear).
struct ContactEdit {
  std::optional<OptString> name;
  std::optional<OptString> phone;  // already E.164
  std::optional<OptString> email;
  std::optional<OptString> company;
  std::optional<bool> blocked;
  // key -> compact JSON of the value ("null" clears); type-checked against the property
  // definitions of the config in force when the write runs.
  std::vector<std::pair<std::string, std::string>> properties;

  bool empty() const {
    return !name && !phone && !email && !company && !blocked && properties.empty();
  }
};

// Parses a request body (must be an object with only the contact's writable fields):
// 400 invalid_request naming the field on a wrong type or an invalid phone/email.
MaybeError parseContactEdit(const rapidjson::Value& body, ContactEdit& out);

// Checks one property value against its definition; 422 invalid_property naming the key.
MaybeError checkPropertyValue(const config::PropertyDef& def, const rapidjson::Value& value);

// POST /v1/contacts: a new contact (needs one of name, phone, email, company); emits
// contact.created.
WriteResult createContact(storage::Tx& tx, const app::ChannelSet& channels, const ContactEdit& edit,
                          std::int64_t now);

// PATCH /v1/contacts/{id}: read-modify-write of one contact. Only the fields sent change;
// properties are merged key by key. A real change emits contact.updated; blocking,
// unblocking and a phone change also add a system message to each of the contact's
// conversations (with message.created). 404 not_found; 422 unknown/invalid_property.
WriteResult editContact(storage::Tx& tx, const app::ChannelSet& channels, const std::string& contactId,
                        const ContactEdit& edit, std::int64_t now);

// POST /v1/contacts/{id}/merge: `otherId` is folded into `survivorId` and deleted. See
// docs/DECISIONS-profile.md for what happens to two conversations on one channel.
// Emits contact.merged {"contact": survivor, "merged_from": otherId, "conversations_merged":
// [{"from","into"}]}.
WriteResult mergeContacts(storage::Tx& tx, const app::ChannelSet& channels, const std::string& survivorId,
                          const std::string& otherId, std::int64_t now);

// --- Conversations ---------------------------------------------------------------------

// Reads {"tags":[...]}: strings, trimmed, 1..64 bytes, no control characters, at most 50,
// duplicates dropped (first one kept).
MaybeError parseTags(const rapidjson::Value& body, std::vector<std::string>& out);

// PUT /v1/conversations/{id}/tags: replaces the tags; a change emits contact.updated (the
// contact's conversations carry the tags). json = the rendered conversation.
WriteResult setTags(storage::Tx& tx, const app::ChannelSet& channels, const std::string& conversationId,
                    const std::vector<std::string>& tags, std::int64_t now);

// POST /v1/conversations/{id}/notes: a message of kind note (never sent). json = the message.
WriteResult addNote(storage::Tx& tx, const std::string& conversationId, const std::string& text,
                    std::int64_t now);

// System message types the gateway writes itself (message "type"; also extra.system_type).
constexpr const char* kSystemConversationStarted = "conversation_started";
constexpr const char* kSystemContactBlocked = "contact_blocked";
constexpr const char* kSystemContactUnblocked = "contact_unblocked";
constexpr const char* kSystemPhoneChanged = "phone_changed";
constexpr const char* kSystemContactMerged = "contact_merged";
constexpr const char* kSystemScheduledCancelled = "scheduled_message_cancelled";

struct AppendedMessage {
  Message message;
  std::int64_t eventSeq = 0;  // the message.created event
};

// Adds a message of kind system to the conversation's activity (direction outbound,
// status received: recorded, never delivered) and its message.created event.
// extraJson: an object; "system_type" is set to `type` in it. occurredAt places it in the
// activity (default: now), e.g. just before the first message of a conversation.
AppendedMessage appendSystemMessage(storage::Tx& tx, const Conversation& conversation, const std::string& type,
                                    const std::string& text, std::int64_t now,
                                    const std::string& extraJson = "{}",
                                    std::optional<std::int64_t> occurredAt = std::nullopt);

}  // namespace gateway::crm
