// Unit tests of webhooks::WebhookHandler's store job on a real SQLite store and the real
// WhatsApp plugin: the job may run twice (Store::write: a failing job elsewhere in its batch
// makes the batch run again), and what the second run stores and counts must be the same as
// one run's.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <future>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "../../support/temp_dir.h"
#include "unit_channels.h"

#include "crm/event_feed.h"
#include "http/metrics.h"
#include "http/server.h"
#include "storage/store.h"
#include "webhooks/webhook_handler.h"

namespace gateway::webhooks {
namespace {

using unit_channels::kWaAccount;
constexpr const char* kSecret = unit_channels::kAppSecret;

// Runs every job twice in its transaction, the first run rolled back: what a job meets when
// another job of its batch fails and the batch runs again.
class RunTwiceStore final : public storage::Store {
 public:
  explicit RunTwiceStore(storage::Store& inner) : inner_(inner) {}
  void migrate() override { inner_.migrate(); }
  int schemaVersion() override { return inner_.schemaVersion(); }
  using Store::write;
  void write(std::function<void(storage::Tx&)> fn, Done done) override {
    inner_.write(
        [fn = std::move(fn)](storage::Tx& tx) {
          tx.exec("SAVEPOINT first_run");
          try {
            fn(tx);
          } catch (...) {
          }
          tx.exec("ROLLBACK TO first_run");
          tx.exec("RELEASE first_run");
          fn(tx);
        },
        std::move(done));
  }
  void read(const std::function<void(storage::Tx&)>& fn) override { inner_.read(fn); }
  bool ping() noexcept override { return inner_.ping(); }
  storage::StoreStats stats() const override { return inner_.stats(); }
  void close() override { inner_.close(); }

 private:
  storage::Store& inner_;
};

std::string signature(const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(std::char_traits<char>::length(kSecret)),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

std::string entry(const std::string& account, const std::string& messageId) {
  return R"({"id":"100200300400501","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",)"
         R"("metadata":{"display_phone_number":"15550100100","phone_number_id":")" +
         account + R"("},"contacts":[{"profile":{"name":"Ana Test"},"wa_id":"15550100201"}],)"
         R"("messages":[{"from":"15550100201","id":")" +
         messageId + R"(","timestamp":"1767772800","type":"text","text":{"body":"hi"}}]}}]})";
}

// A text message from a person to our number.
std::string textWebhook(const std::string& messageId) {
  return R"({"object":"whatsapp_business_account","entry":[)" + entry(kWaAccount, messageId) + "]}";
}

// The same, and a second entry for a number no channel has: the message is stored, the whole
// body kept raw as partly unusable.
std::string partlyUsableWebhook(const std::string& messageId) {
  return R"({"object":"whatsapp_business_account","entry":[)" + entry(kWaAccount, messageId) + "," +
         entry("999999999999999", messageId + ".other") + "]}";
}

class WebhookHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::SqliteOptions options;
    options.path = dir_.path() + "/gateway.db";
    inner_ = storage::openSqlite(options);
    inner_->migrate();
    store_ = std::make_unique<RunTwiceStore>(*inner_);
    channels_ = unit_channels::makeChannels();
    handler_ = std::make_unique<WebhookHandler>([this] { return channels_; }, *store_, metrics_,
                                                unit_channels::registry(), feed_);
    handler_->addRoutes(router_);
  }

  http::Response post(const std::string& body) {
    struct Target final : http::Reply::Target {
      std::promise<http::Response> answered;
      void answer(const http::Response& response) noexcept override { answered.set_value(response); }
    };
    auto target = std::make_shared<Target>();
    auto answered = target->answered.get_future();
    http::Request request;
    request.method = "POST";
    request.path = "/webhooks/whatsapp";
    request.headers = {{"content-type", "application/json"}, {"x-hub-signature-256", signature(body)}};
    request.body = body;
    request.answerLater = [target] { return http::Reply(target); };
    const auto match = router_.match(request.method, request.path);
    EXPECT_NE(match.handler, nullptr);
    request.pathParams = match.params;
    http::Response now = (*match.handler)(request);
    return now.isLater ? answered.get() : now;
  }

  std::int64_t count(const std::string& sql) {
    std::int64_t n = -1;
    inner_->read([&](storage::Tx& tx) { n = tx.queryOne(sql)->getInt(0); });
    return n;
  }

  std::int64_t counterValue(const char* name) {
    // The counter, by its name and the type label, as Metrics renders it.
    const std::string text = metrics_.renderPrometheus();
    const std::string prefix = std::string(name) + "{type=\"whatsapp\"} ";
    const auto at = text.find(prefix);
    return at == std::string::npos ? 0 : std::stoll(text.substr(at + prefix.size()));
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Store> inner_;
  std::unique_ptr<RunTwiceStore> store_;
  app::ChannelSetPtr channels_;
  http::Metrics metrics_;
  crm::EventFeed feed_;
  http::Router router_;
  std::unique_ptr<WebhookHandler> handler_;
};

TEST_F(WebhookHandlerTest, APartlyUsableWebhookRunTwiceStoresItsMessageAndKeepsTheBodyOnce) {
  const auto response = post(partlyUsableWebhook("wamid.twice-1"));
  EXPECT_EQ(response.status, 200);
  // The first run found the unknown account; the second must still store the message.
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'wamid.twice-1'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM raw_webhooks WHERE reason = 'unknown_account'"), 1);
}

TEST_F(WebhookHandlerTest, DuplicatesAreCountedOncePerDeliveryWhenTheJobRunsTwice) {
  ASSERT_EQ(post(textWebhook("wamid.twice-2")).status, 200);
  EXPECT_EQ(counterValue("gateway_webhook_duplicates_total"), 0);
  ASSERT_EQ(post(textWebhook("wamid.twice-2")).status, 200);  // the platform delivers it again
  EXPECT_EQ(counterValue("gateway_webhook_duplicates_total"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM messages WHERE external_id = 'wamid.twice-2'"), 1);
}

}  // namespace
}  // namespace gateway::webhooks
