// Signed fixtures posted over real HTTP to the real binary, read back through the CRM API
// and the events feed.
#include <signal.h>

#include <set>
#include <thread>

#include <Poco/JSON/Parser.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace gt = gateway::testing;
using gt::rfc3339;
using gt::str;
const auto parse = gt::parseObject;
using Poco::JSON::Array;
using Poco::JSON::Object;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

namespace {

Object::Ptr getJson(gt::RunningGateway& gw, const std::string& path) {
  const auto r = gw.get(path);
  EXPECT_EQ(r.status, 200) << path << " " << r.body;
  return parse(r.status == 200 ? r.body : "{}");
}

// Every message the API shows, by external id (walks contacts -> conversations -> messages).
struct ApiView {
  std::map<std::string, Object::Ptr> messagesByExternalId;
  std::map<std::string, Object::Ptr> contactsByIdentity;  // "channel_id/external_id"
  std::vector<Object::Ptr> messages;
};

ApiView readEverything(gt::RunningGateway& gw) {
  ApiView view;
  std::string cursor;
  for (;;) {
    const auto page = getJson(gw, "/v1/contacts?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor));
    const Array::Ptr contacts = page->getArray("contacts");
    for (std::size_t i = 0; contacts && i < contacts->size(); ++i) {
      const Object::Ptr contact = contacts->getObject(static_cast<unsigned>(i));
      const Array::Ptr identities = contact->getArray("identities");
      for (std::size_t k = 0; k < identities->size(); ++k) {
        const Object::Ptr id = identities->getObject(static_cast<unsigned>(k));
        view.contactsByIdentity[str(id, "channel_id") + "/" + str(id, "external_id")] = contact;
      }
      const Array::Ptr conversations = contact->getArray("conversations");
      for (std::size_t k = 0; k < conversations->size(); ++k) {
        const std::string conversationId = str(conversations->getObject(static_cast<unsigned>(k)), "id");
        const auto list = getJson(gw, "/v1/conversations/" + conversationId + "/messages?limit=200&include_suppressed=true");
        const Array::Ptr messages = list->getArray("messages");
        for (std::size_t m = 0; messages && m < messages->size(); ++m) {
          const Object::Ptr msg = messages->getObject(static_cast<unsigned>(m));
          view.messages.push_back(msg);
          if (!msg->isNull("external_id")) view.messagesByExternalId[str(msg, "external_id")] = msg;
        }
      }
    }
    if (page->isNull("next_cursor")) break;
    cursor = str(page, "next_cursor");
  }
  return view;
}

const std::map<std::string, std::string> kChannelByAccount{
    {"110220330440551", "wa-main"}, {"104050607080901", "fb-main"}, {"17841400000000101", "ig-main"}};

std::string contractType(const std::string& platformType) {
  static const std::map<std::string, std::string> kAliases{{"file", "document"}, {"ig_reel", "share"}};
  static const std::set<std::string> kTypes{"text", "image", "audio", "video", "document", "sticker", "location",
                                            "contacts", "interactive", "button", "reaction", "order", "postback",
                                            "referral", "share", "story_mention", "story_reply", "template"};
  if (kAliases.count(platformType)) return kAliases.at(platformType);
  return kTypes.count(platformType) ? platformType : "unsupported";
}

std::vector<std::string> webhookFixtures(Object::Ptr& expectedFiles) {
  const Object::Ptr expected = parse(gt::readFile(gt::fixturesDir() + "/expected.json"));
  expectedFiles = expected->getObject("files");
  std::vector<std::string> names;
  for (const auto& [name, value] : *expectedFiles) {
    if (name.find("verify.json") == std::string::npos) names.push_back(name);
  }
  return names;
}

}  // namespace

// Every shared fixture, posted signed, comes out of the API as tests/fixtures/README.md says.
TEST(Inbound, EveryFixtureComesOutOfTheApi) {
  gt::RunningGateway gw;
  Object::Ptr files;
  const std::vector<std::string> fixtures = webhookFixtures(files);
  ASSERT_GT(fixtures.size(), 60u);
  for (const std::string& name : fixtures) {
    EXPECT_EQ(gw.postFixture(name).status, 200) << name;
  }
  const ApiView view = readEverything(gw);
  int checked = 0;
  for (const std::string& name : fixtures) {
    const Array::Ptr events = files->getObject(name)->getArray("events");
    for (std::size_t i = 0; i < events->size(); ++i) {
      const Object::Ptr e = events->getObject(static_cast<unsigned>(i));
      const std::string kind = str(e, "event");
      const std::string account = str(e, "business_account_id");
      const std::string externalId = str(e, "external_message_id");
      SCOPED_TRACE(name + " event " + std::to_string(i) + " " + kind);
      if (kChannelByAccount.count(account) == 0) {
        // No channel has this account: not stored anywhere (kept raw instead, checked below).
        EXPECT_EQ(view.messagesByExternalId.count(externalId), 0u);
        continue;
      }
      const std::string channel = kChannelByAccount.at(account);
      const bool personEvent = kind == "message" || kind == "reaction" || kind == "postback" || kind == "system" ||
                               kind == "referral" || kind == "handover";
      if (personEvent) {
        const auto contact = view.contactsByIdentity.find(channel + "/" + str(e, "external_user_id"));
        ASSERT_NE(contact, view.contactsByIdentity.end()) << "no contact for " << str(e, "external_user_id");
        if (!e->isNull("profile_name")) {
          EXPECT_EQ(str(contact->second, "name"), str(e, "profile_name"));
        }
        if (str(e, "external_user_id").find('.') == std::string::npos && channel == "wa-main") {
          EXPECT_EQ(str(contact->second, "phone"), "+" + str(e, "external_user_id"));
        }
      }
      if (!personEvent || e->isNull("external_message_id")) continue;
      const bool ownEcho = !e->isNull("extra") && e->getObject("extra")->has("is_own_app_echo");
      if (ownEcho) {
        // Our own send seen again: deduped against the send record, never a second message.
        EXPECT_EQ(view.messagesByExternalId.count(externalId), 0u);
        continue;
      }
      const auto found = view.messagesByExternalId.find(externalId);
      ASSERT_NE(found, view.messagesByExternalId.end()) << externalId;
      const Object::Ptr m = found->second;
      EXPECT_EQ(str(m, "channel_id"), channel);
      EXPECT_EQ(str(m, "direction"), str(e, "direction"));
      EXPECT_EQ(str(m, "kind"), kind == "system" || kind == "handover" ? "system" : "message");
      if (kind != "system" && kind != "handover") {
        EXPECT_EQ(str(m, "type"), contractType(str(e, "content_type")));
      }
      EXPECT_EQ(str(m, "text"), str(e, "text"));
      EXPECT_EQ(str(m, "occurred_at"), rfc3339(e->getValue<std::int64_t>("timestamp_ms")));
      if (str(e, "direction") == "inbound") {
        EXPECT_EQ(str(m, "status"), "received");
      } else {  // another app's message: sent, or further along when a receipt came later
        EXPECT_THAT(str(m, "status"), ::testing::AnyOf("sent", "delivered", "read"));
      }
      if (kind == "reaction") {
        EXPECT_EQ(str(m, "reply_to_external_id"), str(e, "target_message_id"));
      } else if (!e->isNull("reply_to_message_id")) {
        EXPECT_EQ(str(m, "reply_to_external_id"), str(e, "reply_to_message_id"));
      }
      if (str(m, "type") == "unsupported") {
        EXPECT_FALSE(m->isNull("raw_type"));
        EXPECT_TRUE(m->has("raw"));
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 45);
  EXPECT_GT(gw.countRows("raw_webhooks"), 0);  // the batch's message to an unknown number
}

TEST(Inbound, EditAndRevokeChangeTheTargetMessage) {
  gt::RunningGateway gw;
  // Build the target, then edit and revoke it, with ids taken from the fixtures.
  const Object::Ptr files = parse(gt::readFile(gt::fixturesDir() + "/expected.json"))->getObject("files");
  const Object::Ptr edit = files->getObject("whatsapp/edit.json")->getArray("events")->getObject(0);
  const Object::Ptr revoke = files->getObject("whatsapp/revoke.json")->getArray("events")->getObject(0);
  std::string text = gt::readFile(gt::fixturesDir() + "/whatsapp/text.json");
  const std::string originalId = "wamid.HBgLMTU1NTAxMDAyMDEVAgASGBSy3Bk3J8ZOFYLWjLIr/rkl3Aq8+gA=";
  ASSERT_NE(text.find(originalId), std::string::npos);
  for (const std::string& target : {str(edit, "target_message_id"), str(revoke, "target_message_id")}) {
    std::string body = text;
    body.replace(body.find(originalId), originalId.size(), target);
    ASSERT_EQ(gw.post("/webhooks/whatsapp", body, gt::signedHeaders(body)).status, 200);
  }
  ASSERT_EQ(gw.postFixture("whatsapp/edit.json").status, 200);
  ASSERT_EQ(gw.postFixture("whatsapp/revoke.json").status, 200);
  const ApiView view = readEverything(gw);
  const Object::Ptr edited = view.messagesByExternalId.at(str(edit, "target_message_id"));
  EXPECT_EQ(str(edited, "text"), str(edit, "text"));
  EXPECT_TRUE(edited->getValue<bool>("edited"));
  EXPECT_TRUE(view.messagesByExternalId.at(str(revoke, "target_message_id"))->getValue<bool>("deleted"));
}

TEST(Inbound, RedeliveriesAndDuplicatesInsideOnePostChangeNothing) {
  gt::RunningGateway gw;
  ASSERT_EQ(gw.postFixture("whatsapp/text.json").status, 200);
  ASSERT_EQ(gw.postFixture("whatsapp/text.json").status, 200);
  // One POST carrying the same message twice (two entries).
  const Object::Ptr body = parse(gt::readFile(gt::fixturesDir() + "/whatsapp/image.json"));
  Array::Ptr entries = body->getArray("entry");
  entries->add(entries->get(0));
  std::ostringstream doubled;
  body->stringify(doubled);
  ASSERT_EQ(gw.post("/webhooks/whatsapp", doubled.str(), gt::signedHeaders(doubled.str())).status, 200);
  EXPECT_EQ(gw.countRows("messages"), 3);  // two messages + "Conversation started"
  EXPECT_EQ(gw.countRows("contacts"), 1);
  EXPECT_EQ(gw.countRows("conversations"), 1);
  EXPECT_EQ(gw.countRows("events"), 4);  // contact.created + three message.created
}

TEST(Inbound, SignedButUnusableContentIsAcknowledgedAndKeptRaw) {
  gt::RunningGateway gw;
  for (const std::string& body : {std::string("this is not json"), std::string(R"({"object":"something_else","entry":[]})"),
                                 std::string(R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"999"},"messages":[{"from":"1","id":"wamid.X","timestamp":"1767772800","type":"text","text":{"body":"hi"}}]}}]}]})")}) {
    EXPECT_EQ(gw.post("/webhooks/whatsapp", body, gt::signedHeaders(body)).status, 200) << body;
  }
  EXPECT_EQ(gw.countRows("raw_webhooks"), 3);
  EXPECT_EQ(gw.countRows("messages"), 0);
  const auto metrics = gw.get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr(R"(gateway_webhooks_unusable_total{type="whatsapp",reason="malformed"} 1)"));
  EXPECT_THAT(metrics, HasSubstr(R"(gateway_webhooks_unusable_total{type="whatsapp",reason="unknown_account"} 1)"));
}

TEST(Inbound, ForgedSignatureStoresNothing) {
  gt::RunningGateway gw;
  const std::string body = gt::readFile(gt::fixturesDir() + "/instagram/text.json");
  auto headers = gt::signedHeaders(body);
  headers["X-Hub-Signature-256"] = gt::hubSignature("not-the-app-secret", body);
  EXPECT_EQ(gw.post("/webhooks/instagram", body, headers).status, 401);
  EXPECT_EQ(gw.countRows("messages"), 0);
  EXPECT_EQ(gw.countRows("raw_webhooks"), 0);
  EXPECT_EQ(gw.countRows("events"), 0);
}

TEST(Inbound, DisabledChannelStillStores) {
  gt::TestConfig config;
  config.messengerEnabled = false;
  gt::RunningGateway gw(config);
  ASSERT_EQ(gw.postFixture("messenger/text.json").status, 200);
  const ApiView view = readEverything(gw);
  ASSERT_EQ(view.messages.size(), 2u);  // the message and "Conversation started"
  const auto conversation = getJson(gw, "/v1/conversations/" + str(view.messages[0], "conversation_id"))
                                ->getObject("conversation");
  EXPECT_FALSE(conversation->getValue<bool>("enabled"));
  EXPECT_FALSE(conversation->getValue<bool>("can_send"));
  EXPECT_EQ(str(conversation, "reason"), "channel_disabled");
  const auto contact = getJson(gw, "/v1/contacts/" + str(view.messages[0], "contact_id"))->getObject("contact");
  EXPECT_TRUE(contact->isNull("default_conversation_id"));  // no enabled channel
}

TEST(Inbound, OneContactWithATabPerChannelInConfigOrder) {
  gt::RunningGateway gw;
  ASSERT_EQ(gw.postFixture("instagram/text.json").status, 200);
  ASSERT_EQ(gw.postFixture("whatsapp/text.json").status, 200);
  const ApiView view = readEverything(gw);
  const Object::Ptr wa = view.contactsByIdentity.at("wa-main/15550100201");
  const Array::Ptr conversations = wa->getArray("conversations");
  ASSERT_EQ(conversations->size(), 1u);
  EXPECT_EQ(str(conversations->getObject(0), "channel_type"), "whatsapp");
  EXPECT_EQ(str(wa, "default_conversation_id"), str(conversations->getObject(0), "id"));
  EXPECT_EQ(str(conversations->getObject(0), "last_inbound_at"), "2026-01-07T08:00:00.000Z");
  EXPECT_EQ(str(conversations->getObject(0), "window_expires_at"), "2026-01-08T08:00:00.000Z");
  EXPECT_EQ(getJson(gw, "/v1/contacts/" + str(wa, "id"))->getObject("contact")->getValue<std::string>("id"), str(wa, "id"));
  EXPECT_EQ(gw.get("/v1/contacts/ct_nope").status, 404);
  EXPECT_EQ(gw.get("/v1/conversations/cv_nope").status, 404);
  EXPECT_EQ(gw.get("/v1/messages/msg_nope").status, 404);
  EXPECT_EQ(gw.get("/v1/conversations/cv_nope/messages").status, 404);
}

TEST(Inbound, ContactSearchAndPagination) {
  gt::RunningGateway gw;
  for (const char* f : {"whatsapp/text.json", "whatsapp/referral_ctwa.json", "whatsapp/username_bsuid.json",
                        "messenger/text.json"}) {
    ASSERT_EQ(gw.postFixture(f).status, 200);
  }
  const auto found = getJson(gw, "/v1/contacts?query=Oliver")->getArray("contacts");
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(str(found->getObject(0), "phone"), "+447700900123");
  EXPECT_EQ(getJson(gw, "/v1/contacts?query=%2B1555")->getArray("contacts")->size(), 1u);  // by phone
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    const auto page = getJson(gw, "/v1/contacts?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (std::size_t i = 0; i < page->getArray("contacts")->size(); ++i) {
      EXPECT_TRUE(seen.insert(str(page->getArray("contacts")->getObject(static_cast<unsigned>(i)), "id")).second);
    }
    cursor = page->isNull("next_cursor") ? "" : str(page, "next_cursor");
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(gw.get("/v1/contacts?limit=0").status, 400);
  EXPECT_EQ(gw.get("/v1/contacts?limit=abc").status, 400);
}

TEST(Inbound, MessagesNewestFirstWithKindFilterAndCursor) {
  gt::RunningGateway gw;
  for (const char* f : {"whatsapp/text.json", "whatsapp/image.json", "whatsapp/video.json", "whatsapp/system_identity_changed.json"}) {
    ASSERT_EQ(gw.postFixture(f).status, 200);
  }
  const ApiView view = readEverything(gw);
  const std::string conversation = str(view.messages.at(0), "conversation_id");
  const auto all = getJson(gw, "/v1/conversations/" + conversation + "/messages")->getArray("messages");
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(str(all->getObject(0), "kind"), "system");  // newest first: the identity notice
  EXPECT_EQ(str(all->getObject(3), "type"), "text");
  EXPECT_EQ(str(all->getObject(4), "type"), "conversation_started");  // just before the first message
  EXPECT_EQ(getJson(gw, "/v1/conversations/" + conversation + "/messages?kind=system")->getArray("messages")->size(), 2u);
  EXPECT_EQ(getJson(gw, "/v1/conversations/" + conversation + "/messages?kind=message")->getArray("messages")->size(), 3u);
  EXPECT_EQ(getJson(gw, "/v1/conversations/" + conversation + "/messages?kind=note")->getArray("messages")->size(), 0u);
  EXPECT_EQ(gw.get("/v1/conversations/" + conversation + "/messages?kind=bogus").status, 400);
  const auto first = getJson(gw, "/v1/conversations/" + conversation + "/messages?limit=3");
  EXPECT_EQ(first->getArray("messages")->size(), 3u);
  const auto rest = getJson(gw, "/v1/conversations/" + conversation + "/messages?limit=3&before=" + str(first, "next_cursor"));
  ASSERT_EQ(rest->getArray("messages")->size(), 2u);
  EXPECT_EQ(str(rest->getArray("messages")->getObject(0), "id"), str(all->getObject(3), "id"));
  EXPECT_TRUE(rest->isNull("next_cursor"));
  const std::string messageId = str(all->getObject(0), "id");
  EXPECT_EQ(str(getJson(gw, "/v1/messages/" + messageId)->getObject("message"), "id"), messageId);
}

// The feed, read page by page with next_cursor, shows every event once, in order.
TEST(Inbound, EventsFeedPagesEveryEventExactlyOnce) {
  gt::RunningGateway gw;
  for (const char* f : {"whatsapp/text.json", "whatsapp/image.json", "messenger/text.json", "instagram/text.json"}) {
    ASSERT_EQ(gw.postFixture(f).status, 200);
  }
  const auto everything = getJson(gw, "/v1/events?limit=1000")->getArray("events");
  ASSERT_EQ(everything->size(), 10u);  // 3 contacts + 4 messages + 3 "Conversation started"
  std::vector<std::string> paged;
  std::string cursor = "0";
  for (int i = 0; i < 20; ++i) {
    const auto page = getJson(gw, "/v1/events?limit=2&after=" + cursor);
    const auto events = page->getArray("events");
    if (events->size() == 0) break;
    for (std::size_t k = 0; k < events->size(); ++k) paged.push_back(str(events->getObject(static_cast<unsigned>(k)), "id"));
    cursor = str(page, "next_cursor");
  }
  ASSERT_EQ(paged.size(), everything->size());
  for (std::size_t i = 0; i < paged.size(); ++i) EXPECT_EQ(paged[i], str(everything->getObject(static_cast<unsigned>(i)), "id"));
  const Object::Ptr first = everything->getObject(0);
  EXPECT_EQ(str(first, "type"), "contact.created");
  EXPECT_EQ(str(first->getObject("data"), "name"), "Ana Test");
  EXPECT_EQ(str(everything->getObject(1), "type"), "message.created");
  EXPECT_EQ(str(everything->getObject(1)->getObject("data"), "type"), "conversation_started");
  EXPECT_EQ(gw.get("/v1/events?after=x").status, 400);
}

TEST(Inbound, EventsLongPollWakesWhenAWebhookCommits) {
  gt::RunningGateway gw;
  gt::HttpResult polled;
  const auto started = std::chrono::steady_clock::now();
  std::thread poller([&] { polled = gw.get("/v1/events?after=0&wait=20"); });
  std::this_thread::sleep_for(300ms);  // let the poll start waiting
  ASSERT_EQ(gw.postFixture("whatsapp/text.json").status, 200);
  poller.join();
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(polled.status, 200);
  EXPECT_THAT(polled.body, HasSubstr("contact.created"));
  EXPECT_LT(waited, 10s);
  // With nothing new, wait=1 answers empty after about a second.
  const auto empty = getJson(gw, "/v1/events?wait=1&after=" + str(parse(polled.body), "next_cursor"));
  EXPECT_EQ(empty->getArray("events")->size(), 0u);
}

TEST(Inbound, DataSurvivesAKill) {
  gt::RunningGateway gw;
  ASSERT_EQ(gw.postFixture("whatsapp/text.json").status, 200);
  gw.restart();  // SIGKILL, then start again on the same database
  EXPECT_EQ(readEverything(gw).messages.size(), 2u);  // the message and "Conversation started"
}

// A body kept because no channel had its account is used once the account is configured.
TEST(Inbound, KeptWebhooksAreReplayedAfterTheConfigChanges) {
  gt::RunningGateway gw;
  ASSERT_EQ(gw.postFixture("whatsapp/batch_mixed.json").status, 200);  // one message is for 110220330440552
  ASSERT_EQ(gw.countRows("raw_webhooks"), 1);
  const int before = gw.countRows("messages");
  auto replay = [&] { return gw.post("/v1/admin/replay-webhooks", "", gt::authHeader()); };
  EXPECT_THAT(replay().body, HasSubstr(R"("replayed":0,"still_unusable":1)"));
  EXPECT_EQ(gw.countRows("messages"), before);

  gt::TestConfig next = gw.config();
  next.extraChannelsYaml =
      "  - { id: wa-second, type: whatsapp, account_id: \"110220330440552\", app_secret: \"" +
      std::string(gt::kFixtureSecret) + "\", verify_token: v, access_token: a }\n";
  gw.rewriteConfig(next);
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(gt::waitFor([&] { return gw.get("/v1/channels").body.find("wa-second") != std::string::npos; }, 10s));
  EXPECT_THAT(replay().body, HasSubstr(R"("replayed":1,"still_unusable":0)"));
  // Only the missing message (and its new conversation's notice): the rest were duplicates.
  EXPECT_EQ(gw.countRows("messages"), before + 2);
  EXPECT_THAT(replay().body, HasSubstr(R"("replayed":0,"still_unusable":0)"));
  EXPECT_EQ(gw.post("/v1/admin/replay-webhooks", "", {}).status, 401);
}
