#include "crm/repository.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace gateway::crm {

using storage::Row;
using storage::Value;

namespace {

Value flag(bool b) { return Value(std::int64_t{b ? 1 : 0}); }

constexpr const char* kContactColumns =
    "id, name, phone, email, company, blocked, properties, created_at, updated_at";

Contact contactFrom(const Row& r) {
  Contact c;
  c.id = r.getText(0);
  c.name = r.findText(1);
  c.phone = r.findText(2);
  c.email = r.findText(3);
  c.company = r.findText(4);
  c.blocked = r.getInt(5) != 0;
  c.properties = r.getText(6);
  c.createdAt = r.getInt(7);
  c.updatedAt = r.getInt(8);
  return c;
}

constexpr const char* kConversationColumns =
    "id, contact_id, channel_id, tags, last_inbound_at, created_at";

Conversation conversationFrom(const Row& r) {
  Conversation c;
  c.id = r.getText(0);
  c.contactId = r.getText(1);
  c.channelId = r.getText(2);
  c.tags = r.getText(3);
  c.lastInboundAt = r.findInt(4);
  c.createdAt = r.getInt(5);
  return c;
}

constexpr const char* kMessageColumns =
    "seq, id, conversation_id, contact_id, channel_id, direction, kind, type, text, attachments, "
    "external_id, reply_to, reply_to_external_id, status, error, occurred_at, created_at, updated_at, "
    "edited, deleted, suppressed, raw_type, raw, extra";

Message messageFrom(const Row& r) {
  Message m;
  m.seq = r.getInt(0);
  m.id = r.getText(1);
  m.conversationId = r.getText(2);
  m.contactId = r.getText(3);
  m.channelId = r.getText(4);
  m.direction = r.getText(5);
  m.kind = r.getText(6);
  m.type = r.getText(7);
  m.text = r.findText(8);
  m.attachments = r.getText(9);
  m.externalId = r.findText(10);
  m.replyTo = r.findText(11);
  m.replyToExternalId = r.findText(12);
  m.status = r.getText(13);
  m.error = r.findText(14);
  m.occurredAt = r.getInt(15);
  m.createdAt = r.getInt(16);
  m.updatedAt = r.getInt(17);
  m.edited = r.getInt(18) != 0;
  m.deleted = r.getInt(19) != 0;
  m.suppressed = r.getInt(20) != 0;
  m.rawType = r.findText(21);
  m.raw = r.findText(22);
  m.extra = r.getText(23);
  return m;
}

// The hot lookups keep the result in a function-local static: built once, not per call.
std::string select(const char* columns, const char* rest) {
  return std::string("SELECT ") + columns + " " + rest;
}

}  // namespace

int statusRank(const std::string& status) {
  if (status == "queued") return 0;
  if (status == "sending") return 1;
  if (status == "sent") return 2;
  if (status == "delivered") return 3;
  if (status == "read") return 4;
  return -1;
}

bool statusMayAdvance(const std::string& from, const std::string& to) {
  if (from == "failed" || from == "read" || from == "received") return false;
  if (to == "failed") return statusRank(from) < statusRank("delivered");
  return statusRank(to) > statusRank(from);
}

std::string newId(const char* prefix) {
  // Per-thread generator seeded from the OS: ids need to be unique, not secret.
  // Time first (ms, 12 hex digits), then 48 random bits: ids of new rows sort near each
  // other, so their unique index grows at one end instead of touching random pages.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  const std::uint64_t random = generator();
  std::string id = prefix;
  for (int i = 11; i >= 0; --i) id += kHex[(ms >> (i * 4)) & 15];
  for (int i = 11; i >= 0; --i) id += kHex[(random >> (i * 4)) & 15];
  return id;
}

std::optional<Contact> findContact(Tx& tx, const std::string& id) {
  static const std::string kSql = select(kContactColumns, "FROM contacts WHERE id = ?");
  auto row = tx.queryOne(kSql, {id});
  if (!row) return std::nullopt;
  return contactFrom(*row);
}

std::optional<std::string> findContactIdByIdentity(Tx& tx, const std::string& channelId,
                                                   const std::string& externalId) {
  auto row = tx.queryOne("SELECT contact_id FROM identities WHERE channel_id = ? AND external_id = ?",
                         {channelId, externalId});
  if (!row) return std::nullopt;
  return row->getText(0);
}

std::optional<std::string> findContactIdByPhone(Tx& tx, const std::string& phone) {
  auto row = tx.queryOne("SELECT id FROM contacts WHERE phone = ? ORDER BY created_at LIMIT 1", {phone});
  if (!row) return std::nullopt;
  return row->getText(0);
}

std::optional<KnownParty> findPartyByIdentity(Tx& tx, const std::string& channelId, const std::string& externalId) {
  const auto row = tx.queryOne(
      "SELECT c.id, c.name, c.phone, c.email, c.company, c.blocked, c.properties, c.created_at, c.updated_at, "
      "v.id, v.contact_id, v.channel_id, v.tags, v.last_inbound_at, v.created_at "
      "FROM identities i JOIN contacts c ON c.id = i.contact_id "
      "LEFT JOIN conversations v ON v.contact_id = c.id AND v.channel_id = i.channel_id "
      "WHERE i.channel_id = ? AND i.external_id = ?",
      {channelId, externalId});
  if (!row) return std::nullopt;
  KnownParty party{contactFrom(*row), std::nullopt};
  if (!row->isNull(9)) {
    Conversation v;
    v.id = row->getText(9);
    v.contactId = row->getText(10);
    v.channelId = row->getText(11);
    v.tags = row->getText(12);
    v.lastInboundAt = row->findInt(13);
    v.createdAt = row->getInt(14);
    party.conversation = std::move(v);
  }
  return party;
}

void insertContact(Tx& tx, const Contact& c) {
  tx.exec("INSERT INTO contacts (id, name, phone, email, company, blocked, properties, created_at, "
          "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {c.id, storage::nullable(c.name), storage::nullable(c.phone), storage::nullable(c.email), storage::nullable(c.company), flag(c.blocked), c.properties,
           c.createdAt, c.updatedAt});
}

void updateContact(Tx& tx, const Contact& c) {
  tx.exec("UPDATE contacts SET name = ?, phone = ?, email = ?, company = ?, blocked = ?, properties = ?, "
          "updated_at = ? WHERE id = ?",
          {storage::nullable(c.name), storage::nullable(c.phone), storage::nullable(c.email), storage::nullable(c.company), flag(c.blocked), c.properties,
           c.updatedAt, c.id});
}

std::vector<Contact> listContacts(Tx& tx, const std::string& query, const std::string& after, int limit) {
  std::string sql = select(kContactColumns, "FROM contacts WHERE id > ?");
  std::vector<Value> params{after};
  if (!query.empty()) {
    // LIKE with escaped wildcards: the query is text to find, not a pattern.
    std::string pattern = "%";
    for (char c : query) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
    pattern += '%';
    sql += " AND (name LIKE ? ESCAPE '\\' OR phone LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' "
           "OR company LIKE ? ESCAPE '\\')";
    params.insert(params.end(), {pattern, pattern, pattern, pattern});
  }
  sql += " ORDER BY id LIMIT ?";
  params.emplace_back(std::int64_t{limit});
  std::vector<Contact> out;
  for (const Row& r : tx.query(sql, params)) out.push_back(contactFrom(r));
  return out;
}

std::vector<Identity> identitiesOf(Tx& tx, const std::string& contactId) {
  std::vector<Identity> out;
  for (const Row& r : tx.query("SELECT channel_id, kind, external_id FROM identities WHERE contact_id = ? "
                               "ORDER BY created_at, channel_id, external_id",
                               {contactId})) {
    out.push_back(Identity{r.getText(0), r.getText(1), r.getText(2)});
  }
  return out;
}

bool insertIdentity(Tx& tx, const std::string& contactId, const Identity& i, std::int64_t now) {
  return tx.exec("INSERT INTO identities (channel_id, external_id, kind, contact_id, created_at) "
                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, external_id) DO NOTHING",
                 {i.channelId, i.externalId, i.kind, contactId, now}) > 0;
}

std::optional<Conversation> findConversation(Tx& tx, const std::string& id) {
  static const std::string kSql = select(kConversationColumns, "FROM conversations WHERE id = ?");
  auto row = tx.queryOne(kSql, {id});
  if (!row) return std::nullopt;
  return conversationFrom(*row);
}

std::optional<ConversationParty> findConversationParty(Tx& tx, const std::string& id) {
  // One row per identity on the channel (one row with NULLs when there is none). Sorted
  // here rather than by ORDER BY, which costs SQLite a temporary b-tree for a row or two.
  const auto rows = tx.query(
      "SELECT v.id, v.contact_id, v.channel_id, v.tags, v.last_inbound_at, v.created_at, c.blocked, i.kind, "
      "i.external_id, i.created_at FROM conversations v LEFT JOIN contacts c ON c.id = v.contact_id "
      "LEFT JOIN identities i ON i.contact_id = v.contact_id AND i.channel_id = v.channel_id WHERE v.id = ?",
      {id});
  if (rows.empty()) return std::nullopt;
  ConversationParty party;
  party.conversation = conversationFrom(rows.front());
  party.contactBlocked = rows.front().findInt(6).value_or(0) != 0;
  std::vector<std::pair<std::int64_t, Identity>> found;
  for (const Row& r : rows) {
    if (!r.isNull(8)) found.push_back({r.getInt(9), Identity{party.conversation.channelId, r.getText(7), r.getText(8)}});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.externalId < b.second.externalId;
  });
  for (auto& f : found) party.identities.push_back(std::move(f.second));
  return party;
}

std::optional<Conversation> findConversationFor(Tx& tx, const std::string& contactId,
                                                const std::string& channelId) {
  static const std::string kSql =
      select(kConversationColumns, "FROM conversations WHERE contact_id = ? AND channel_id = ?");
  auto row = tx.queryOne(kSql, {contactId, channelId});
  if (!row) return std::nullopt;
  return conversationFrom(*row);
}

std::vector<Conversation> conversationsOf(Tx& tx, const std::string& contactId) {
  std::vector<Conversation> out;
  for (const Row& r : tx.query(select(kConversationColumns, "FROM conversations WHERE contact_id = ?"),
                               {contactId})) {
    out.push_back(conversationFrom(r));
  }
  return out;
}

void insertConversation(Tx& tx, const Conversation& c) {
  tx.exec("INSERT INTO conversations (id, contact_id, channel_id, tags, last_inbound_at, created_at) "
          "VALUES (?, ?, ?, ?, ?, ?)",
          {c.id, c.contactId, c.channelId, c.tags, storage::nullable(c.lastInboundAt), c.createdAt});
}

void recordInbound(Tx& tx, const std::string& conversationId, std::int64_t at) {
  // Re-deliveries and out-of-order batches must not move the window back.
  tx.exec("UPDATE conversations SET last_inbound_at = ? WHERE id = ? AND "
          "(last_inbound_at IS NULL OR last_inbound_at < ?)",
          {at, conversationId, at});
}

bool insertMessage(Tx& tx, Message& m) {
  const auto inserted = tx.insert(
      "INSERT INTO messages (id, conversation_id, contact_id, channel_id, direction, kind, type, text, "
      "attachments, external_id, reply_to, reply_to_external_id, status, error, occurred_at, created_at, "
      "updated_at, edited, deleted, suppressed, raw_type, raw, extra) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (channel_id, external_id) DO NOTHING",
      {m.id, m.conversationId, m.contactId, m.channelId, m.direction, m.kind, m.type, storage::nullable(m.text),
       m.attachments, storage::nullable(m.externalId), storage::nullable(m.replyTo), storage::nullable(m.replyToExternalId), m.status, storage::nullable(m.error),
       m.occurredAt, m.createdAt, m.updatedAt, flag(m.edited), flag(m.deleted), flag(m.suppressed),
       storage::nullable(m.rawType), storage::nullable(m.raw), m.extra});
  if (!inserted) return false;
  m.seq = *inserted;
  return true;
}

std::optional<Message> findMessage(Tx& tx, const std::string& id) {
  static const std::string kSql = select(kMessageColumns, "FROM messages WHERE id = ?");
  auto row = tx.queryOne(kSql, {id});
  if (!row) return std::nullopt;
  return messageFrom(*row);
}

std::optional<Message> findMessageByExternalId(Tx& tx, const std::string& channelId,
                                               const std::string& externalId) {
  static const std::string kSql = select(kMessageColumns, "FROM messages WHERE channel_id = ? AND external_id = ?");
  auto row = tx.queryOne(kSql, {channelId, externalId});
  if (!row) return std::nullopt;
  return messageFrom(*row);
}

void updateMessage(Tx& tx, const Message& m) {
  tx.exec("UPDATE messages SET text = ?, attachments = ?, external_id = ?, status = ?, error = ?, "
          "updated_at = ?, edited = ?, deleted = ?, reply_to = ? WHERE id = ?",
          {storage::nullable(m.text), m.attachments, storage::nullable(m.externalId), m.status, storage::nullable(m.error), m.updatedAt, flag(m.edited),
           flag(m.deleted), storage::nullable(m.replyTo), m.id});
}

void updateMessageStatus(Tx& tx, const Message& m) {
  tx.exec("UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE id = ?",
          {m.status, storage::nullable(m.error), m.updatedAt, m.id});
}

std::vector<Message> listMessages(Tx& tx, const std::string& conversationId, const std::string& kind,
                                  bool includeSuppressed, const std::string& beforeId, int limit) {
  std::string sql = select(kMessageColumns, "FROM messages WHERE conversation_id = ?");
  std::vector<Value> params{conversationId};
  if (!kind.empty()) {
    sql += " AND kind = ?";
    params.emplace_back(kind);
  }
  if (!includeSuppressed) sql += " AND suppressed = 0";
  if (!beforeId.empty()) {
    sql += " AND (occurred_at, seq) < (SELECT occurred_at, seq FROM messages WHERE id = ?)";
    params.emplace_back(beforeId);
  }
  sql += " ORDER BY occurred_at DESC, seq DESC LIMIT ?";
  params.emplace_back(std::int64_t{limit});
  std::vector<Message> out;
  for (const Row& r : tx.query(sql, params)) out.push_back(messageFrom(r));
  return out;
}

std::vector<Message> outboundUpTo(Tx& tx, const std::string& conversationId, std::int64_t watermark,
                                  const std::string& status) {
  std::vector<Message> out;
  for (const Row& r : tx.query(select(kMessageColumns,
                                      "FROM messages WHERE conversation_id = ? AND direction = 'outbound' "
                                      "AND kind = 'message' AND occurred_at <= ? AND status IN ('sent', 'delivered')"),
                               {conversationId, watermark})) {
    Message m = messageFrom(r);
    if (statusMayAdvance(m.status, status)) out.push_back(std::move(m));
  }
  return out;
}

void parkStatus(Tx& tx, const std::string& channelId, const std::string& externalId, const ParkedStatus& s) {
  tx.exec("INSERT INTO parked_statuses (channel_id, external_id, status, occurred_at, error) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, external_id, status) DO NOTHING",
          {channelId, externalId, s.status, s.occurredAt, storage::nullable(s.error)});
}

std::vector<ParkedStatus> takeParkedStatuses(Tx& tx, const std::string& channelId,
                                             const std::string& externalId) {
  std::vector<ParkedStatus> out;
  // Sorted here: an ORDER BY costs SQLite a temporary b-tree on every call, and nearly every
  // call (each `sent` of ours) finds nothing.
  for (const Row& r : tx.query("SELECT status, occurred_at, error FROM parked_statuses WHERE channel_id = ? "
                               "AND external_id = ?",
                               {channelId, externalId})) {
    out.push_back(ParkedStatus{r.getText(0), r.getInt(1), r.findText(2)});
  }
  if (!out.empty()) {
    std::stable_sort(out.begin(), out.end(),
                     [](const ParkedStatus& a, const ParkedStatus& b) { return a.occurredAt < b.occurredAt; });
    tx.exec("DELETE FROM parked_statuses WHERE channel_id = ? AND external_id = ?", {channelId, externalId});
  }
  return out;
}

std::int64_t expireParkedStatuses(Tx& tx, std::int64_t before) {
  return tx.exec("DELETE FROM parked_statuses WHERE occurred_at < ?", {before});
}

std::int64_t appendEvent(Tx& tx, const std::string& type, std::int64_t at, const std::string& dataJson) {
  return *tx.insert("INSERT INTO events (type, at, data) VALUES (?, ?, ?)", {type, at, dataJson});
}

std::vector<FeedEvent> eventsAfter(Tx& tx, std::int64_t afterSeq, int limit) {
  std::vector<FeedEvent> out;
  for (const Row& r : tx.query("SELECT seq, type, at, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                               {afterSeq, std::int64_t{limit}})) {
    out.push_back(FeedEvent{r.getInt(0), r.getText(1), r.getInt(2), r.getText(3)});
  }
  return out;
}

void keepRawWebhook(Tx& tx, const std::string& channelType, const std::string& signerChannelId,
                    std::int64_t receivedAt, const std::string& body, const std::string& reason) {
  tx.exec("INSERT INTO raw_webhooks (channel_type, signer_channel_id, received_at, body, reason) "
          "VALUES (?, ?, ?, ?, ?)",
          {channelType, signerChannelId, receivedAt, body, reason});
}

}  // namespace gateway::crm
