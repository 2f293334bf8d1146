// Unit tests of inbound::ingest: normalized events -> contacts, conversations, messages,
// statuses and the events feed, on a real SQLite store (migrated) and a ChannelSet built from
// the real plugins. Events are constructed directly: the plugins have their own tests.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../../support/temp_dir.h"
#include "unit_channels.h"

#include "app/channels.h"
#include "config/config.h"
#include "crm/records.h"
#include "crm/repository.h"
#include "delivery/outbox.h"
#include "gateway/channel_api.h"
#include "inbound/ingest.h"
#include "plugins/plugin_loader.h"
#include "storage/store.h"

namespace gateway::inbound {
namespace {

namespace api = gateway::channel_api;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using storage::Value;

using unit_channels::kFbAccount;
using unit_channels::kIgAccount;
using unit_channels::kWaAccount;
using unit_channels::makeChannels;
constexpr std::int64_t kNow = 1764000000000;  // 2025-11-24, the gateway's clock in these tests
constexpr std::int64_t kT0 = kNow - 3600000;  // platform times: an hour earlier and on

using gateway::testing::TempDir;

InboundEvent message(const char* account, const std::string& from, const std::string& id, std::int64_t at,
                     const std::string& text = "hello") {
  InboundEvent e;
  e.kind = api::EventKind::kMessage;
  e.direction = api::Direction::kInbound;
  e.businessAccountId = account;
  e.externalUserId = from;
  e.externalMessageId = id;
  e.contentType = "text";
  e.messageType = "text";
  e.text = text;
  e.timestampMs = at;
  e.rawJson = R"({"id":")" + id + R"("})";
  return e;
}

InboundEvent waMessage(const std::string& waId, const std::string& wamid, std::int64_t at,
                       std::optional<std::string> profileName = std::nullopt) {
  InboundEvent e = message(kWaAccount, waId, wamid, at);
  e.userIdKind = "wa_id";
  e.profileName = std::move(profileName);
  return e;
}

InboundEvent fbMessage(const std::string& psid, const std::string& mid, std::int64_t at,
                       const std::string& text = "hello") {
  InboundEvent e = message(kFbAccount, psid, mid, at, text);
  e.userIdKind = "psid";
  return e;
}

InboundEvent waStatus(const std::string& wamid, const std::string& status, std::int64_t at,
                      const std::string& waId = "15550100201") {
  InboundEvent e;
  e.kind = api::EventKind::kStatus;
  e.businessAccountId = kWaAccount;
  e.externalUserId = waId;
  e.userIdKind = "wa_id";
  e.externalMessageId = wamid;
  e.status = status;
  e.timestampMs = at;
  e.rawJson = "{}";
  return e;
}

InboundEvent receipt(api::EventKind kind, const char* account, const std::string& user, std::int64_t watermark) {
  InboundEvent e;
  e.kind = kind;
  e.businessAccountId = account;
  e.externalUserId = user;
  e.timestampMs = watermark;
  e.rawJson = "{}";
  return e;
}

InboundEvent change(api::EventKind kind, const std::string& psid, const std::string& target, std::int64_t at,
                    std::optional<std::string> text = std::nullopt) {
  InboundEvent e;
  e.kind = kind;
  e.businessAccountId = kFbAccount;
  e.externalUserId = psid;
  e.userIdKind = "psid";
  e.externalMessageId = target;
  e.targetMessageId = target;
  e.text = std::move(text);
  e.timestampMs = at;
  e.rawJson = "{}";
  return e;
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::SqliteOptions options;
    options.path = dir_.path() + "/gateway.db";
    store_ = storage::openSqlite(options);
    store_->migrate();
    channels_ = makeChannels();
  }

  void TearDown() override { store_->close(); }

  IngestResult ingest(const std::string& type, const std::vector<InboundEvent>& events, std::int64_t now = kNow,
                      const app::ChannelSet* channels = nullptr) {
    IngestResult result;
    const app::ChannelSet& set = channels ? *channels : *channels_;
    store_->write([&](storage::Tx& tx) { result = inbound::ingest(tx, set, type, events, now); }).get();
    return result;
  }

  std::int64_t count(const std::string& sql, const std::vector<Value>& params = {}) {
    std::int64_t n = -1;
    store_->read([&](storage::Tx& tx) { n = tx.queryOne(sql, params)->getInt(0); });
    return n;
  }

  // The first column of the first row, or nullopt when there is no row or it is NULL.
  std::optional<std::string> text(const std::string& sql, const std::vector<Value>& params = {}) {
    std::optional<std::string> out;
    store_->read([&](storage::Tx& tx) {
      if (auto row = tx.queryOne(sql, params)) out = row->findText(0);
    });
    return out;
  }

  std::optional<std::int64_t> integer(const std::string& sql, const std::vector<Value>& params = {}) {
    std::optional<std::int64_t> out;
    store_->read([&](storage::Tx& tx) {
      if (auto row = tx.queryOne(sql, params)) out = row->findInt(0);
    });
    return out;
  }

  std::optional<std::string> statusOf(const std::string& externalId) {
    return text("SELECT status FROM messages WHERE external_id = ?", {externalId});
  }

  std::int64_t events(const std::string& type) { return count("SELECT COUNT(*) FROM events WHERE type = ?", {type}); }

  // Feed events of `type` about the message with this external id.
  std::int64_t eventsFor(const std::string& type, const std::string& externalId) {
    return count("SELECT COUNT(*) FROM events WHERE type = ? AND json_extract(data, '$.external_id') = ?",
                 {type, externalId});
  }

  std::int64_t maxEventSeq() { return count("SELECT COALESCE(MAX(seq), 0) FROM events"); }

  crm::Contact insertContact(std::optional<std::string> name, std::optional<std::string> phone, bool blocked = false) {
    crm::Contact c;
    c.id = crm::newId("ct_");
    c.name = std::move(name);
    c.phone = std::move(phone);
    c.blocked = blocked;
    c.createdAt = c.updatedAt = kNow - 86400000;
    store_->write([&](storage::Tx& tx) { crm::insertContact(tx, c); }).get();
    return c;
  }

  // The conversation of the person with this external id on channelId (after an inbound event).
  crm::Conversation conversationOf(const std::string& channelId, const std::string& externalUserId) {
    std::optional<crm::Conversation> out;
    store_->read([&](storage::Tx& tx) {
      const auto contactId = crm::findContactIdByIdentity(tx, channelId, externalUserId);
      if (contactId) out = crm::findConversationFor(tx, *contactId, channelId);
    });
    if (!out) throw std::runtime_error("no conversation for " + externalUserId + " on " + channelId);
    return *out;
  }

  // An outbound message the gateway sent (status sent, external id set), as delivery records it.
  crm::Message seedOutbound(const crm::Conversation& conversation, const std::string& externalId,
                            std::int64_t occurredAt) {
    crm::Message m;
    m.id = crm::newId("msg_");
    m.conversationId = conversation.id;
    m.contactId = conversation.contactId;
    m.channelId = conversation.channelId;
    m.direction = "outbound";
    m.kind = "message";
    m.type = "text";
    m.text = "our reply";
    m.externalId = externalId;
    m.status = "sent";
    m.occurredAt = occurredAt;
    m.createdAt = m.updatedAt = occurredAt;
    bool inserted = false;
    store_->write([&](storage::Tx& tx) { inserted = crm::insertMessage(tx, m); }).get();
    if (!inserted) throw std::runtime_error("seed message not inserted: " + externalId);
    return m;
  }

  // A WhatsApp person who wrote once, and one message we sent them.
  crm::Message seedWhatsAppOutbound(const std::string& wamid, const std::string& waId = "15550100201") {
    ingest("whatsapp", {waMessage(waId, "wamid.IN." + wamid, kT0)});
    return seedOutbound(conversationOf("wa-main", waId), wamid, kT0 + 1000);
  }

  TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  app::ChannelSetPtr channels_;
};

// ---- WhatsApp statuses ----

TEST_F(IngestTest, StatusesMoveForwardSentDeliveredReadEachWithOneUpdatedEvent) {
  seedWhatsAppOutbound("wamid.OUT1");

  IngestResult r = ingest("whatsapp", {waStatus("wamid.OUT1", "delivered", kT0 + 2000)}, kNow + 1);
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(r.duplicates, 0);
  EXPECT_EQ(statusOf("wamid.OUT1"), "delivered");
  EXPECT_EQ(eventsFor("message.updated", "wamid.OUT1"), 1);
  EXPECT_EQ(r.lastEventSeq, maxEventSeq());
  EXPECT_EQ(text("SELECT json_extract(data, '$.status') FROM events WHERE type = 'message.updated' "
                 "ORDER BY seq DESC LIMIT 1"),
            "delivered");

  r = ingest("whatsapp", {waStatus("wamid.OUT1", "read", kT0 + 3000)}, kNow + 2);
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(statusOf("wamid.OUT1"), "read");
  EXPECT_EQ(eventsFor("message.updated", "wamid.OUT1"), 2);
  EXPECT_EQ(integer("SELECT updated_at FROM messages WHERE external_id = 'wamid.OUT1'"), kNow + 2);
}

TEST_F(IngestTest, ReadThenLateDeliveredLeavesRead) {
  seedWhatsAppOutbound("wamid.OUT1");

  IngestResult r = ingest("whatsapp", {waStatus("wamid.OUT1", "read", kT0 + 3000)});
  EXPECT_EQ(r.stored, 1);
  r = ingest("whatsapp", {waStatus("wamid.OUT1", "delivered", kT0 + 2000)});
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(r.lastEventSeq, 0);
  EXPECT_EQ(statusOf("wamid.OUT1"), "read");
  EXPECT_EQ(eventsFor("message.updated", "wamid.OUT1"), 1);
}

TEST_F(IngestTest, ReadThenDeliveredInOneBatchLeavesRead) {
  seedWhatsAppOutbound("wamid.OUT1");

  const IngestResult r = ingest("whatsapp", {waStatus("wamid.OUT1", "read", kT0 + 3000),
                                             waStatus("wamid.OUT1", "delivered", kT0 + 2000)});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(statusOf("wamid.OUT1"), "read");
  EXPECT_EQ(eventsFor("message.updated", "wamid.OUT1"), 1);
}

TEST_F(IngestTest, DuplicateStatusChangesNothingAndWritesNoEvent) {
  seedWhatsAppOutbound("wamid.OUT1");
  ingest("whatsapp", {waStatus("wamid.OUT1", "delivered", kT0 + 2000)}, kNow + 1);
  const std::int64_t eventsBefore = count("SELECT COUNT(*) FROM events");

  const IngestResult r = ingest("whatsapp", {waStatus("wamid.OUT1", "delivered", kT0 + 2000)}, kNow + 50);
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(r.parked, 0);
  EXPECT_EQ(r.lastEventSeq, 0);
  EXPECT_THAT(r.unusable, IsEmpty());
  EXPECT_EQ(statusOf("wamid.OUT1"), "delivered");
  EXPECT_EQ(integer("SELECT updated_at FROM messages WHERE external_id = 'wamid.OUT1'"), kNow + 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), eventsBefore);
}

TEST_F(IngestTest, PlayedCountsAsRead) {
  seedWhatsAppOutbound("wamid.VOICE");

  const IngestResult r = ingest("whatsapp", {waStatus("wamid.VOICE", "played", kT0 + 2000)});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(statusOf("wamid.VOICE"), "read");
  // and a read after it is a duplicate
  EXPECT_EQ(ingest("whatsapp", {waStatus("wamid.VOICE", "read", kT0 + 3000)}).duplicates, 1);
  EXPECT_EQ(eventsFor("message.updated", "wamid.VOICE"), 1);
}

TEST_F(IngestTest, FailedOnSentMessageSetsStatusAndError) {
  seedWhatsAppOutbound("wamid.OUT1");
  InboundEvent failed = waStatus("wamid.OUT1", "failed", kT0 + 2000);
  failed.errorCode = 131047;
  failed.errorMessage = "Re-engagement message";

  const IngestResult r = ingest("whatsapp", {failed});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(statusOf("wamid.OUT1"), "failed");
  const std::string sel = "SELECT json_extract(error, ?) FROM messages WHERE external_id = 'wamid.OUT1'";
  EXPECT_THAT(text(sel, {std::string("$.code")}), ::testing::Optional(::testing::Not(IsEmpty())));
  EXPECT_EQ(text(sel, {std::string("$.message")}), "Re-engagement message");
  EXPECT_EQ(integer(sel, {std::string("$.platform_code")}), 131047);
  EXPECT_EQ(eventsFor("message.updated", "wamid.OUT1"), 1);
  EXPECT_EQ(integer("SELECT json_extract(data, '$.error.platform_code') FROM events WHERE type = 'message.updated'"),
            131047);
}

TEST_F(IngestTest, FailedAfterDeliveredOrReadIsIgnored) {
  seedWhatsAppOutbound("wamid.D");
  seedOutbound(conversationOf("wa-main", "15550100201"), "wamid.R", kT0 + 1500);
  ingest("whatsapp", {waStatus("wamid.D", "delivered", kT0 + 2000), waStatus("wamid.R", "read", kT0 + 2000)});
  const std::int64_t eventsBefore = count("SELECT COUNT(*) FROM events");

  InboundEvent failD = waStatus("wamid.D", "failed", kT0 + 3000);
  failD.errorCode = 131026;
  failD.errorMessage = "Message undeliverable";
  InboundEvent failR = failD;
  failR.externalMessageId = "wamid.R";
  const IngestResult r = ingest("whatsapp", {failD, failR});
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(r.duplicates, 2);
  EXPECT_EQ(statusOf("wamid.D"), "delivered");
  EXPECT_EQ(statusOf("wamid.R"), "read");
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE error IS NOT NULL"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), eventsBefore);
}

TEST_F(IngestTest, UnknownStatusValueIsUnusable) {
  seedWhatsAppOutbound("wamid.OUT1");
  const IngestResult r = ingest("whatsapp", {waStatus("wamid.OUT1", "teleported", kT0 + 2000)});
  EXPECT_THAT(r.unusable, ElementsAre("unknown_status"));
  EXPECT_EQ(statusOf("wamid.OUT1"), "sent");
  EXPECT_EQ(count("SELECT COUNT(*) FROM parked_statuses"), 0);
}

// ---- statuses that come before their message ----

TEST_F(IngestTest, StatusForUnrecordedMessageIsParked) {
  const IngestResult r = ingest("whatsapp", {waStatus("wamid.LATER", "delivered", kT0 + 2000)});
  EXPECT_EQ(r.parked, 1);
  EXPECT_EQ(r.stored, 0);
  EXPECT_THAT(r.unusable, IsEmpty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM parked_statuses WHERE channel_id = 'wa-main' AND "
                  "external_id = 'wamid.LATER' AND status = 'delivered' AND occurred_at = ?",
                  {kT0 + 2000}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
}

TEST_F(IngestTest, ParkedStatusesApplyWhenAnotherAppsEchoRecordsTheMessage) {
  ingest("whatsapp", {waStatus("wamid.LATER", "delivered", kT0 + 2000), waStatus("wamid.LATER", "read", kT0 + 3000)});
  ASSERT_EQ(count("SELECT COUNT(*) FROM parked_statuses"), 2);

  // The business replied from another app (e.g. the WhatsApp Business app): its echo.
  InboundEvent echo = waMessage("15550100201", "wamid.LATER", kT0 + 1000);
  echo.direction = api::Direction::kOutbound;
  echo.text = "sent from the phone";
  const IngestResult r = ingest("whatsapp", {echo}, kNow + 10);
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(text("SELECT direction FROM messages WHERE external_id = 'wamid.LATER'"), "outbound");
  EXPECT_EQ(statusOf("wamid.LATER"), "read");
  EXPECT_EQ(count("SELECT COUNT(*) FROM parked_statuses"), 0);
  EXPECT_EQ(eventsFor("message.created", "wamid.LATER"), 1);
  EXPECT_GE(eventsFor("message.updated", "wamid.LATER"), 1);
  EXPECT_EQ(text("SELECT json_extract(data, '$.status') FROM events WHERE type = 'message.updated' "
                 "ORDER BY seq DESC LIMIT 1"),
            "read");
  EXPECT_EQ(r.lastEventSeq, maxEventSeq());

  // The echo again: nothing new.
  const IngestResult again = ingest("whatsapp", {echo});
  EXPECT_EQ(again.duplicates, 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'wamid.LATER'"), 1);
}

TEST_F(IngestTest, OwnEchoOfUnrecordedSendParksSent) {
  InboundEvent echo = fbMessage("24680135792468013", "m_OWN1", kT0);
  echo.direction = api::Direction::kOutbound;
  echo.ownEcho = true;  // our own app's send whose result delivery has not recorded yet
  const IngestResult r = ingest("messenger", {echo});
  EXPECT_EQ(r.parked, 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM parked_statuses WHERE channel_id = 'fb-main' AND external_id = 'm_OWN1' "
                  "AND status = 'sent'"),
            1);
}

// ---- duplicates ----

TEST_F(IngestTest, SameInboundMessageTwiceInABatchAndAgainLaterIsStoredOnce) {
  const InboundEvent m = waMessage("15550100201", "wamid.DUP", kT0, "Ada");
  IngestResult r = ingest("whatsapp", {m, m});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(r.duplicates, 1);

  r = ingest("whatsapp", {m}, kNow + 1000);
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(r.lastEventSeq, 0);

  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'wamid.DUP'"), 1);
  EXPECT_EQ(eventsFor("message.created", "wamid.DUP"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM contacts"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM conversations"), 1);
  EXPECT_EQ(events("contact.created"), 1);
}

TEST_F(IngestTest, SameExternalIdOnAnotherChannelIsAnotherMessage) {
  // Uniqueness is per channel: a mid on Messenger says nothing about Instagram.
  InboundEvent ig = message(kIgAccount, "17841455555555555", "m_SAME", kT0);
  ig.userIdKind = "igsid";
  ingest("messenger", {fbMessage("24680135792468013", "m_SAME", kT0)});
  ingest("instagram", {ig});
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'm_SAME'"), 2);
}

// ---- unified contacts ----

TEST_F(IngestTest, WaIdJoinsTheContactWithThatPhone) {
  const crm::Contact ada = insertContact(std::string("Ada Lovelace"), std::string("+15550100201"));

  const IngestResult r = ingest("whatsapp", {waMessage("15550100201", "wamid.A1", kT0, "Ada WA")});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM contacts"), 1);
  EXPECT_EQ(text("SELECT contact_id FROM identities WHERE channel_id = 'wa-main' AND external_id = '15550100201' "
                 "AND kind = 'wa_id'"),
            ada.id);
  EXPECT_EQ(text("SELECT contact_id FROM messages WHERE external_id = 'wamid.A1'"), ada.id);
  // An existing name is kept.
  EXPECT_EQ(text("SELECT name FROM contacts WHERE id = ?", {ada.id}), "Ada Lovelace");
  // Not a new contact: its new channel's conversation is the news.
  EXPECT_EQ(events("contact.created"), 0);
  EXPECT_EQ(events("conversation.created"), 1);
  EXPECT_EQ(text("SELECT json_extract(data, '$.contact_id') FROM events WHERE type = 'conversation.created'"), ada.id);
}

TEST_F(IngestTest, BsuidUserBecomesAContactWithoutPhone) {
  // Even with a contact whose phone happens to read like the id, a BSUID is not a number.
  InboundEvent m = waMessage("US.13579246801357924680", "wamid.B1", kT0, "Bea");
  m.userIdKind = "bsuid";
  const IngestResult r = ingest("whatsapp", {m});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM contacts"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM contacts WHERE phone IS NULL AND name = 'Bea'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM identities WHERE kind = 'bsuid' AND external_id = 'US.13579246801357924680'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM identities WHERE kind = 'wa_id'"), 0);
  EXPECT_EQ(events("contact.created"), 1);
  EXPECT_EQ(text("SELECT json_extract(data, '$.phone') FROM events WHERE type = 'contact.created'"), std::nullopt);
}

TEST_F(IngestTest, ProfileNameFillsAnEmptyNameButNeverOverwrites) {
  const crm::Contact c = insertContact(std::nullopt, std::string("+15550100202"));

  ingest("whatsapp", {waMessage("15550100202", "wamid.P1", kT0, "Bo")});
  EXPECT_EQ(text("SELECT name FROM contacts WHERE id = ?", {c.id}), "Bo");

  ingest("whatsapp", {waMessage("15550100202", "wamid.P2", kT0 + 1000, "Bobby Tables")});
  EXPECT_EQ(text("SELECT name FROM contacts WHERE id = ?", {c.id}), "Bo");
}

TEST_F(IngestTest, NewPersonGetsOneContactOneConversationAndOneContactCreated) {
  ingest("whatsapp", {waMessage("15550100203", "wamid.C1", kT0, "Cy")});
  ingest("whatsapp", {waMessage("15550100203", "wamid.C2", kT0 + 1000, "Cy")});

  EXPECT_EQ(count("SELECT COUNT(*) FROM contacts"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM conversations"), 1);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT conversation_id) FROM messages WHERE external_id IN ('wamid.C1', 'wamid.C2')"),
            1);
  EXPECT_EQ(text("SELECT phone FROM contacts"), "+15550100203");
  EXPECT_EQ(text("SELECT name FROM contacts"), "Cy");
  EXPECT_EQ(events("contact.created"), 1);
  EXPECT_EQ(events("conversation.created"), 0);  // carried by contact.created
  EXPECT_EQ(count("SELECT json_array_length(data, '$.conversations') FROM events WHERE type = 'contact.created'"), 1);
  EXPECT_EQ(eventsFor("message.created", "wamid.C1"), 1);
  EXPECT_EQ(eventsFor("message.created", "wamid.C2"), 1);
}

TEST_F(IngestTest, PeopleOnDifferentChannelsWithoutAPhoneAreSeparateContacts) {
  InboundEvent ig = message(kIgAccount, "17841455555555555", "ig_1", kT0);
  ig.userIdKind = "igsid";
  ingest("messenger", {fbMessage("24680135792468013", "m_1", kT0)});
  ingest("instagram", {ig});
  EXPECT_EQ(count("SELECT COUNT(*) FROM contacts"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM identities WHERE kind = 'psid'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM identities WHERE kind = 'igsid'"), 1);
  EXPECT_EQ(events("contact.created"), 2);
}

// ---- the customer-service window ----

TEST_F(IngestTest, LastInboundAtTakesTheNewestAndNeverMovesBack) {
  const std::string waId = "15550100204";
  ingest("whatsapp", {waMessage(waId, "wamid.W1", kT0), waMessage(waId, "wamid.W3", kT0 + 3000)});
  const std::string conv = conversationOf("wa-main", waId).id;
  const std::string sel = "SELECT last_inbound_at FROM conversations WHERE id = ?";
  EXPECT_EQ(integer(sel, {conv}), kT0 + 3000);

  // An older message delivered late.
  ingest("whatsapp", {waMessage(waId, "wamid.W2", kT0 + 2000)});
  EXPECT_EQ(integer(sel, {conv}), kT0 + 3000);

  // A newer one moves it.
  ingest("whatsapp", {waMessage(waId, "wamid.W4", kT0 + 4000)});
  EXPECT_EQ(integer(sel, {conv}), kT0 + 4000);
}

TEST_F(IngestTest, ReactionsDoNotMoveTheWindow) {
  const std::string waId = "15550100205";
  ingest("whatsapp", {waMessage(waId, "wamid.R1", kT0)});
  InboundEvent reaction = waMessage(waId, "wamid.R2", kT0 + 60000);
  reaction.kind = api::EventKind::kReaction;
  reaction.contentType = "reaction";
  reaction.messageType = "reaction";
  reaction.text = "\xF0\x9F\x91\x8D";
  reaction.targetMessageId = "wamid.R1";

  const IngestResult r = ingest("whatsapp", {reaction});
  EXPECT_EQ(r.stored, 1);
  const std::string conv = conversationOf("wa-main", waId).id;
  EXPECT_EQ(integer("SELECT last_inbound_at FROM conversations WHERE id = ?", {conv}), kT0);
  EXPECT_EQ(text("SELECT type FROM messages WHERE external_id = 'wamid.R2'"), "reaction");
  EXPECT_EQ(text("SELECT reply_to_external_id FROM messages WHERE external_id = 'wamid.R2'"), "wamid.R1");
  EXPECT_EQ(text("SELECT reply_to FROM messages WHERE external_id = 'wamid.R2'"),
            text("SELECT id FROM messages WHERE external_id = 'wamid.R1'"));
}

TEST_F(IngestTest, StatusesAndEchoesDoNotOpenTheWindow) {
  seedWhatsAppOutbound("wamid.OUT1", "15550100206");
  const std::string conv = conversationOf("wa-main", "15550100206").id;
  InboundEvent echo = waMessage("15550100206", "wamid.ECHO", kT0 + 90000);
  echo.direction = api::Direction::kOutbound;
  ingest("whatsapp", {waStatus("wamid.OUT1", "read", kT0 + 80000, "15550100206"), echo});
  EXPECT_EQ(integer("SELECT last_inbound_at FROM conversations WHERE id = ?", {conv}), kT0);
}

// ---- blocked contacts, disabled channels ----

TEST_F(IngestTest, BlockedContactsMessageIsStoredSuppressedWithoutEvent) {
  insertContact(std::string("Mallory"), std::string("+15550100207"), /*blocked=*/true);

  const IngestResult r = ingest("whatsapp", {waMessage("15550100207", "wamid.BLK", kT0)});
  EXPECT_EQ(r.stored, 1);
  EXPECT_THAT(r.unusable, IsEmpty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'wamid.BLK' AND suppressed = 1 "
                  "AND status = 'received'"),
            1);
  EXPECT_EQ(eventsFor("message.created", "wamid.BLK"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'message.created' AND "
                  "json_extract(data, '$.kind') = 'message'"),
            0);
  // What the feed did get (the new conversation and its "Conversation started" line) is
  // announced: lastEventSeq is the newest entry written, so long-pollers wake for it.
  EXPECT_EQ(r.lastEventSeq, maxEventSeq());

  // The next message on the now existing conversation writes nothing to the feed at all.
  const std::int64_t before = maxEventSeq();
  const IngestResult next = ingest("whatsapp", {waMessage("15550100207", "wamid.BLK2", kT0 + 1000)});
  EXPECT_EQ(next.stored, 1);
  EXPECT_EQ(next.lastEventSeq, 0);
  EXPECT_EQ(maxEventSeq(), before);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE suppressed = 1"), 2);
}

TEST_F(IngestTest, DisabledChannelStillStores) {
  const app::ChannelSetPtr disabled = makeChannels(/*whatsappEnabled=*/false);
  ASSERT_FALSE(disabled->findById("wa-main")->config.enabled);

  const IngestResult r = ingest("whatsapp", {waMessage("15550100208", "wamid.OFF", kT0, "Dee")}, kNow, disabled.get());
  EXPECT_EQ(r.stored, 1);
  EXPECT_THAT(r.unusable, IsEmpty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'wamid.OFF' AND channel_id = 'wa-main'"), 1);
  EXPECT_EQ(eventsFor("message.created", "wamid.OFF"), 1);
}

// ---- Messenger / Instagram receipts ----

TEST_F(IngestTest, MessengerDeliveryWatermarkMarksOnlyMessagesSentUpToIt) {
  const std::string psid = "24680135792468013";
  ingest("messenger", {fbMessage(psid, "m_IN", kT0)});
  const crm::Conversation conv = conversationOf("fb-main", psid);
  seedOutbound(conv, "m_OUT1", kT0 + 1000);
  seedOutbound(conv, "m_OUT2", kT0 + 2000);
  seedOutbound(conv, "m_OUT3", kT0 + 3000);

  IngestResult r = ingest("messenger", {receipt(api::EventKind::kDelivery, kFbAccount, psid, kT0 + 2000)});
  EXPECT_EQ(r.stored, 2);
  EXPECT_EQ(statusOf("m_OUT1"), "delivered");
  EXPECT_EQ(statusOf("m_OUT2"), "delivered");
  EXPECT_EQ(statusOf("m_OUT3"), "sent");
  EXPECT_EQ(statusOf("m_IN"), "received");  // inbound messages have no delivery status
  EXPECT_EQ(events("message.updated"), 2);

  r = ingest("messenger", {receipt(api::EventKind::kRead, kFbAccount, psid, kT0 + 3000)});
  EXPECT_EQ(r.stored, 3);
  EXPECT_EQ(statusOf("m_OUT1"), "read");
  EXPECT_EQ(statusOf("m_OUT2"), "read");
  EXPECT_EQ(statusOf("m_OUT3"), "read");
  EXPECT_EQ(events("message.updated"), 5);

  // An older delivery watermark after the read changes nothing.
  r = ingest("messenger", {receipt(api::EventKind::kDelivery, kFbAccount, psid, kT0 + 3000)});
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(statusOf("m_OUT3"), "read");
  EXPECT_EQ(events("message.updated"), 5);
}

TEST_F(IngestTest, MessengerReadMarksSentMessagesRead) {
  const std::string psid = "24680135792468014";
  ingest("messenger", {fbMessage(psid, "m_IN", kT0)});
  const crm::Conversation conv = conversationOf("fb-main", psid);
  seedOutbound(conv, "m_OUT1", kT0 + 1000);
  seedOutbound(conv, "m_OUT2", kT0 + 5000);

  const IngestResult r = ingest("messenger", {receipt(api::EventKind::kRead, kFbAccount, psid, kT0 + 1000)});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(statusOf("m_OUT1"), "read");
  EXPECT_EQ(statusOf("m_OUT2"), "sent");
}

TEST_F(IngestTest, InstagramSeenOfATargetMessageReadsUpToIt) {
  const std::string igsid = "17841455555555555";
  InboundEvent in = message(kIgAccount, igsid, "ig_IN", kT0);
  in.userIdKind = "igsid";
  ingest("instagram", {in});
  const crm::Conversation conv = conversationOf("ig-main", igsid);
  seedOutbound(conv, "ig_OUT1", kT0 + 1000);
  seedOutbound(conv, "ig_OUT2", kT0 + 2000);
  seedOutbound(conv, "ig_OUT3", kT0 + 3000);

  // Instagram's seen names the message; its own time may be earlier than the message's.
  InboundEvent seen = receipt(api::EventKind::kRead, kIgAccount, igsid, kT0 + 500);
  seen.targetMessageId = "ig_OUT2";
  const IngestResult r = ingest("instagram", {seen});
  EXPECT_EQ(r.stored, 2);
  EXPECT_EQ(statusOf("ig_OUT1"), "read");
  EXPECT_EQ(statusOf("ig_OUT2"), "read");
  EXPECT_EQ(statusOf("ig_OUT3"), "sent");
}

TEST_F(IngestTest, ReceiptFromAStrangerChangesNothing) {
  const IngestResult r = ingest("messenger", {receipt(api::EventKind::kRead, kFbAccount, "99999999", kT0)});
  EXPECT_EQ(r.stored, 0);
  EXPECT_THAT(r.unusable, IsEmpty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM contacts"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
}

// ---- edits and deletes ----

TEST_F(IngestTest, EditSetsTextAndEdited) {
  const std::string psid = "24680135792468013";
  ingest("messenger", {fbMessage(psid, "m_E", kT0, "helo")});

  IngestResult r = ingest("messenger", {change(api::EventKind::kMessageEdited, psid, "m_E", kT0 + 1000, "hello")},
                          kNow + 5);
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(text("SELECT text FROM messages WHERE external_id = 'm_E'"), "hello");
  EXPECT_EQ(integer("SELECT edited FROM messages WHERE external_id = 'm_E'"), 1);
  EXPECT_EQ(integer("SELECT deleted FROM messages WHERE external_id = 'm_E'"), 0);
  EXPECT_EQ(eventsFor("message.updated", "m_E"), 1);
  EXPECT_EQ(text("SELECT json_extract(data, '$.text') FROM events WHERE type = 'message.updated'"), "hello");

  // The same edit again is a duplicate.
  r = ingest("messenger", {change(api::EventKind::kMessageEdited, psid, "m_E", kT0 + 1000, "hello")});
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(eventsFor("message.updated", "m_E"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'm_E'"), 1);
}

TEST_F(IngestTest, DeleteSetsDeleted) {
  const std::string psid = "24680135792468013";
  ingest("messenger", {fbMessage(psid, "m_D", kT0, "oops")});

  IngestResult r = ingest("messenger", {change(api::EventKind::kMessageDeleted, psid, "m_D", kT0 + 1000)});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(integer("SELECT deleted FROM messages WHERE external_id = 'm_D'"), 1);
  EXPECT_EQ(eventsFor("message.updated", "m_D"), 1);
  EXPECT_EQ(integer("SELECT json_extract(data, '$.deleted') FROM events WHERE type = 'message.updated'"), 1);

  r = ingest("messenger", {change(api::EventKind::kMessageDeleted, psid, "m_D", kT0 + 1000)});
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(eventsFor("message.updated", "m_D"), 1);
}

TEST_F(IngestTest, OnlyTheAuthorCanEditOrDeleteAMessage) {
  const std::string author = "24680135792468013";
  const std::string other = "13579246801357924";
  ingest("messenger", {fbMessage(author, "m_A", kT0, "mine"), fbMessage(other, "m_B", kT0, "theirs")});
  const IngestResult r =
      ingest("messenger", {change(api::EventKind::kMessageEdited, other, "m_A", kT0 + 1000, "hijacked"),
                           change(api::EventKind::kMessageDeleted, other, "m_A", kT0 + 1000)});
  EXPECT_THAT(r.unusable, ElementsAre("foreign_target", "foreign_target"));
  EXPECT_EQ(text("SELECT text FROM messages WHERE external_id = 'm_A'"), "mine");
  EXPECT_EQ(integer("SELECT deleted FROM messages WHERE external_id = 'm_A'"), 0);
}

TEST_F(IngestTest, EditOrDeleteOfAnUnknownMessageIsUnusable) {
  const std::string psid = "24680135792468013";
  const IngestResult r =
      ingest("messenger", {change(api::EventKind::kMessageEdited, psid, "m_NOPE", kT0, "x"),
                           change(api::EventKind::kMessageDeleted, psid, "m_NOPE2", kT0)});
  EXPECT_THAT(r.unusable, ElementsAre("unknown_target", "unknown_target"));
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
}

// ---- what cannot be used ----

TEST_F(IngestTest, UnknownAccountIsUnusableAndStoresNothing) {
  InboundEvent stranger = waMessage("15550100209", "wamid.X", kT0);
  stranger.businessAccountId = "999000999000999";
  // The Messenger page's id in a WhatsApp webhook: never routed into another type's channel.
  InboundEvent otherType = waMessage("15550100209", "wamid.Y", kT0);
  otherType.businessAccountId = kFbAccount;

  const IngestResult r = ingest("whatsapp", {stranger, otherType});
  EXPECT_THAT(r.unusable, ElementsAre("unknown_account", "unknown_account"));
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(r.lastEventSeq, 0);
  for (const char* table : {"contacts", "identities", "conversations", "messages", "events", "parked_statuses"}) {
    EXPECT_EQ(count(std::string("SELECT COUNT(*) FROM ") + table), 0) << table;
  }
}

TEST_F(IngestTest, UnknownEventKindIsUnusable) {
  InboundEvent e;
  e.kind = api::EventKind::kUnknown;
  e.businessAccountId = kWaAccount;
  e.rawJson = R"({"field":"something_new"})";
  const IngestResult r = ingest("whatsapp", {e});
  EXPECT_THAT(r.unusable, ElementsAre("unknown_event"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
}

TEST_F(IngestTest, UsableEventsAroundAnUnusableOneAreStillApplied) {
  InboundEvent unknown;
  unknown.kind = api::EventKind::kUnknown;
  unknown.businessAccountId = kWaAccount;
  const IngestResult r = ingest("whatsapp", {waMessage("15550100210", "wamid.U1", kT0), unknown,
                                             waMessage("15550100210", "wamid.U2", kT0 + 1)});
  EXPECT_EQ(r.stored, 2);
  EXPECT_THAT(r.unusable, ElementsAre("unknown_event"));
}

TEST_F(IngestTest, UnsupportedTypeKeepsRawTypeAndRaw) {
  InboundEvent e = waMessage("15550100211", "wamid.UNS", kT0);
  e.contentType = "ephemeral";
  e.messageType = "unsupported";
  e.rawType = "ephemeral";
  e.text.reset();
  e.rawJson = R"({"id":"wamid.UNS","type":"ephemeral","ephemeral":{"x":1}})";

  const IngestResult r = ingest("whatsapp", {e});
  EXPECT_EQ(r.stored, 1);
  EXPECT_EQ(text("SELECT type FROM messages WHERE external_id = 'wamid.UNS'"), "unsupported");
  EXPECT_EQ(text("SELECT raw_type FROM messages WHERE external_id = 'wamid.UNS'"), "ephemeral");
  EXPECT_EQ(text("SELECT raw FROM messages WHERE external_id = 'wamid.UNS'"), e.rawJson);
  EXPECT_EQ(text("SELECT json_extract(data, '$.raw_type') FROM events WHERE type = 'message.created' AND "
                 "json_extract(data, '$.external_id') = 'wamid.UNS'"),
            "ephemeral");
  EXPECT_EQ(integer("SELECT json_extract(data, '$.raw.ephemeral.x') FROM events WHERE type = 'message.created' AND "
                    "json_extract(data, '$.external_id') = 'wamid.UNS'"),
            1);
}

TEST_F(IngestTest, SupportedTypeKeepsNoRaw) {
  ingest("whatsapp", {waMessage("15550100212", "wamid.TXT", kT0)});
  EXPECT_EQ(text("SELECT type FROM messages WHERE external_id = 'wamid.TXT'"), "text");
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'wamid.TXT' AND raw_type IS NULL "
                  "AND raw IS NULL"),
            1);
}

// The collector derives the contract type on the request thread; an unmapped platform type
// reaches the store as unsupported with its own name and object.
TEST_F(IngestTest, CollectorDerivesUnsupportedTypeForIngest) {
  api::Event ev;
  ev.kind = api::EventKind::kMessage;
  ev.businessAccountId = api::bytesOf(kWaAccount);
  ev.externalUserId = api::bytesOf("15550100213");
  ev.userIdKind = api::bytesOf("wa_id");
  ev.externalMessageId = api::bytesOf("wamid.COL");
  ev.contentType = api::bytesOf("holo_call");
  ev.timestampMs = kT0;
  ev.extraJson = api::bytesOf("{}");
  ev.rawJson = api::bytesOf(R"({"type":"holo_call"})");
  EventCollector collector;
  collector.onEvent(ev);
  ASSERT_FALSE(collector.overflowed());
  ASSERT_EQ(collector.events().size(), 1u);

  ingest("whatsapp", collector.events());
  EXPECT_EQ(text("SELECT type FROM messages WHERE external_id = 'wamid.COL'"), "unsupported");
  EXPECT_EQ(text("SELECT raw_type FROM messages WHERE external_id = 'wamid.COL'"), "holo_call");
  EXPECT_EQ(text("SELECT raw FROM messages WHERE external_id = 'wamid.COL'"), R"({"type":"holo_call"})");
}

}  // namespace
}  // namespace gateway::inbound

namespace gateway::inbound {
namespace {

TEST_F(IngestTest, ExpiringParkedStatusesDropsOnlyOldOnes) {
  ingest("whatsapp", {waStatus("wamid.OLD", "delivered", kT0 - 1000), waStatus("wamid.NEW", "delivered", kT0 + 1000)});
  ASSERT_EQ(count("SELECT COUNT(*) FROM parked_statuses"), 2);
  std::int64_t expired = 0;
  store_->write([&](storage::Tx& tx) { expired = crm::expireParkedStatuses(tx, kT0); }).get();
  EXPECT_EQ(expired, 1);
  EXPECT_EQ(text("SELECT external_id FROM parked_statuses"), "wamid.NEW");
}

// What a send reads of its conversation (the accept and the claim), in one query.
TEST_F(IngestTest, SendTargetHasTheBlockFlagAndPrefersThePluginsIdentityKindOnTheChannel) {
  ingest("whatsapp", {waMessage("15550100201", "wamid.P1", kT0)});
  const crm::Conversation wa = conversationOf("wa-main", "15550100201");
  // An older business-scoped id on the same channel, and an id on another channel.
  store_->write([&](storage::Tx& tx) {
    tx.exec("INSERT INTO identities (channel_id, external_id, kind, contact_id, created_at) VALUES "
            "('wa-main', 'US.1', 'bsuid', ?, 1), ('fb-main', 'PSID.1', 'psid', ?, 2)",
            {wa.contactId, wa.contactId});
  }).get();

  std::optional<crm::ConversationParty> party;
  delivery::SendTarget target;
  store_->read([&](storage::Tx& tx) {
    party = crm::findConversationParty(tx, wa.id);
    target = delivery::readSendTarget(tx, *channels_, wa.id);
  });
  ASSERT_TRUE(party);
  EXPECT_EQ(party->conversation.contactId, wa.contactId);
  EXPECT_FALSE(party->contactBlocked);
  ASSERT_EQ(party->identities.size(), 2u);  // this channel's only, oldest first
  EXPECT_EQ(party->identities[0].externalId, "US.1");
  EXPECT_EQ(party->identities[1].externalId, "15550100201");
  ASSERT_TRUE(target.conversation && target.recipient);
  EXPECT_EQ(target.recipient->kind, "wa_id");  // the plugin's kind wins over the older bsuid
  EXPECT_EQ(target.recipient->externalId, "15550100201");

  store_->write([&](storage::Tx& tx) {
    tx.exec("UPDATE contacts SET blocked = 1 WHERE id = ?", {wa.contactId});
    tx.exec("DELETE FROM identities WHERE contact_id = ? AND channel_id = 'wa-main'", {wa.contactId});
  }).get();
  store_->read([&](storage::Tx& tx) {
    party = crm::findConversationParty(tx, wa.id);
    target = delivery::readSendTarget(tx, *channels_, wa.id);
    EXPECT_FALSE(crm::findConversationParty(tx, "cv_missing"));
    EXPECT_FALSE(delivery::readSendTarget(tx, *channels_, "cv_missing").conversation);
  });
  ASSERT_TRUE(party);
  EXPECT_TRUE(party->contactBlocked);
  EXPECT_THAT(party->identities, IsEmpty());
  EXPECT_TRUE(target.contactBlocked);
  EXPECT_FALSE(target.recipient);
}

}  // namespace
}  // namespace gateway::inbound
