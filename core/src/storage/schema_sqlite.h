// SQLite schema steps, referenced from the migration list in migrations.cpp.
#pragma once

namespace gateway::storage::schema {

// v2: the CRM records, the events feed and what webhooks could not be used.
// Times are UTC epoch milliseconds; JSON-valued columns hold compact JSON text.
constexpr const char* kCrm = R"sql(
CREATE TABLE contacts (
  id TEXT PRIMARY KEY, name TEXT, phone TEXT, email TEXT, company TEXT,
  blocked INTEGER NOT NULL DEFAULT 0, properties TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX contacts_phone ON contacts (phone);
CREATE TABLE identities (
  channel_id TEXT NOT NULL, external_id TEXT NOT NULL, kind TEXT NOT NULL,
  contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE, created_at INTEGER NOT NULL,
  PRIMARY KEY (channel_id, external_id));
CREATE INDEX identities_contact ON identities (contact_id);
CREATE TABLE conversations (
  id TEXT PRIMARY KEY, contact_id TEXT NOT NULL REFERENCES contacts (id), channel_id TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]', last_inbound_at INTEGER, created_at INTEGER NOT NULL,
  UNIQUE (contact_id, channel_id));
CREATE TABLE messages (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL REFERENCES conversations (id), contact_id TEXT NOT NULL,
  channel_id TEXT NOT NULL, direction TEXT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL, text TEXT,
  attachments TEXT NOT NULL DEFAULT '[]', external_id TEXT, reply_to TEXT, reply_to_external_id TEXT,
  status TEXT NOT NULL, error TEXT, occurred_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, edited INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0,
  suppressed INTEGER NOT NULL DEFAULT 0, raw_type TEXT, raw TEXT, extra TEXT NOT NULL DEFAULT '{}');
-- Exactly once per platform message: the store, not the code, refuses a re-delivery.
CREATE UNIQUE INDEX messages_external ON messages (channel_id, external_id);
CREATE INDEX messages_conversation ON messages (conversation_id, occurred_at, seq);
CREATE TABLE parked_statuses (
  channel_id TEXT NOT NULL, external_id TEXT NOT NULL, status TEXT NOT NULL,
  occurred_at INTEGER NOT NULL, error TEXT, PRIMARY KEY (channel_id, external_id, status));
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE raw_webhooks (
  id INTEGER PRIMARY KEY AUTOINCREMENT, channel_type TEXT NOT NULL, signer_channel_id TEXT,
  received_at INTEGER NOT NULL, body BLOB NOT NULL, reason TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'kept');
)sql";

// v4: outbound delivery (the durable outbox), idempotency keys and scheduled messages.
constexpr const char* kOutbound = R"sql(
CREATE TABLE outbox (
  message_id TEXT PRIMARY KEY REFERENCES messages (id), seq INTEGER NOT NULL,
  conversation_id TEXT NOT NULL, channel_id TEXT NOT NULL,
  state TEXT NOT NULL,            -- pending | inflight | unknown
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL, lease_until INTEGER, request TEXT NOT NULL);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
-- Per-conversation order: only the oldest unfinished message of a conversation is sent.
CREATE INDEX outbox_conversation ON outbox (conversation_id, seq);
CREATE TABLE idempotency_keys (
  conversation_id TEXT NOT NULL, key TEXT NOT NULL, message_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, PRIMARY KEY (conversation_id, key));
CREATE TABLE scheduled_messages (
  id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations (id),
  contact_id TEXT NOT NULL, send_at INTEGER NOT NULL, status TEXT NOT NULL, request TEXT NOT NULL,
  text TEXT, template TEXT, message_id TEXT, error TEXT, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
CREATE INDEX scheduled_due ON scheduled_messages (status, send_at);
CREATE INDEX scheduled_contact ON scheduled_messages (contact_id, status, send_at);
CREATE INDEX scheduled_conversation ON scheduled_messages (conversation_id, status, send_at);
)sql";

// v5: parked statuses expire (a status whose message never appears must not stay forever).
constexpr const char* kParkedExpiry = R"sql(
CREATE INDEX parked_statuses_age ON parked_statuses (occurred_at);
)sql";

// v6: events without AUTOINCREMENT. It kept a row in sqlite_sequence up to date on every
// event insert (three per send); without it the next seq is max(seq) + 1, the same as long
// as the newest event is never deleted, and nothing deletes events. The upgrade copies the
// feed once, at the first start of this version.
constexpr const char* kEventsPlainRowid = R"sql(
CREATE TABLE events_v6 (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL);
INSERT INTO events_v6 (seq, type, at, data) SELECT seq, type, at, data FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v6 RENAME TO events;
)sql";

}  // namespace gateway::storage::schema
