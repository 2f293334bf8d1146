#include "delivery/delivery_engine.h"

#include <pthread.h>

#include <limits>
#include <map>
#include <set>

#include "crm/render.h"
#include "crm/repository.h"
#include "delivery/backoff.h"
#include "log/log.h"
#include "util/clock.h"

namespace gateway::delivery {

namespace api = gateway::channel_api;

namespace {

// How far ahead of its pacing slot a message is claimed: the longest a call holds a
// connection waiting for its slot, and keeps a place in flight from other accounts.
constexpr std::chrono::milliseconds kPacingHorizon{50};

// Collects the HTTP request a plugin builds.
class CallWriter final : public api::RequestWriter {
 public:
  explicit CallWriter(std::string baseUrl) { call.url = std::move(baseUrl); }
  void setMethod(api::Bytes m) noexcept override { call.method.assign(m.data, m.size); }
  void setPath(api::Bytes p) noexcept override { call.url.append(p.data, p.size); }
  void addHeader(api::Bytes n, api::Bytes v) noexcept override {
    call.headers.emplace_back(std::string(n.data, n.size), std::string(v.data, v.size));
  }
  void setBody(api::Bytes b) noexcept override { call.body.assign(b.data, b.size); }
  HttpCall call;
};

// Collects the plugin's reading of a Send API answer.
class ResultReader final : public api::SendResult {
 public:
  void accepted(api::Bytes id) noexcept override {
    ok = true;
    externalId.assign(id.data ? id.data : "", id.size);
  }
  void failed(api::SendErrorClass c, std::int64_t code, std::int64_t, api::Bytes message) noexcept override {
    ok = false;
    errorClass = c;
    platformCode = code;
    errorMessage.assign(message.data ? message.data : "", message.size);
  }
  bool ok = false;
  std::string externalId;
  api::SendErrorClass errorClass = api::SendErrorClass::kTransient;
  std::int64_t platformCode = 0;
  std::string errorMessage;
};

}  // namespace

DeliveryEngine::DeliveryEngine(std::function<app::ChannelSetPtr()> channels, storage::Store& store,
                               crm::EventFeed& feed, http::Metrics& metrics)
    : channels_(std::move(channels)), store_(store), feed_(feed), metrics_(metrics) {}

DeliveryEngine::~DeliveryEngine() { stop(); }

void DeliveryEngine::start() {
  // With the embedded store this process is the only sender, so whatever is in flight now
  // was in flight when a previous run died: its outcome is unknown, and there is no need to
  // wait for its lease to run out.
  store_.write([](storage::Tx& tx) { expireLeases(tx, std::numeric_limits<std::int64_t>::max()); }).get();
  const config::DeliveryConfig cfg = channels_()->config->delivery;
  capacity_ = std::max(1, cfg.workers);
  SendLoop::Options options;
  options.timeout = std::chrono::milliseconds(cfg.requestTimeoutMs);
  options.maxConnectionsPerOrigin = capacity_;
  sender_ = std::make_unique<SendLoop>(limiter_, options);
  dispatcher_ = std::thread([this] { dispatchLoop(); });
}

void DeliveryEngine::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  // Calls not written yet end cancelled (their messages go back to pending, see finish());
  // written ones get their answer or time out.
  if (sender_) sender_->stop();
  // The records' callbacks use this engine: wait for the last one.
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return recording_ == 0; });
}

void DeliveryEngine::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    poked_ = true;
  }
  wake_.notify_all();
}

void DeliveryEngine::commit(const std::function<std::int64_t(storage::Tx&)>& job) {
  std::int64_t seq = 0;
  store_.write([&](storage::Tx& tx) { seq = job(tx); }).get();
  if (seq > 0) feed_.published(seq);
}

void DeliveryEngine::record(const std::string& messageId, std::function<std::int64_t(storage::Tx&)> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++recording_;
  }
  auto seq = std::make_shared<std::int64_t>(0);
  store_.write([job = std::move(job), seq](storage::Tx& tx) { *seq = job(tx); },
               [this, seq, messageId](std::exception_ptr error) {
                 try {
                   if (error) std::rethrow_exception(error);
                   if (*seq > 0) feed_.published(*seq);
                 } catch (const std::exception& e) {
                   // The lease runs out and the message is retried as of unknown outcome.
                   log::get("delivery")->error("delivery.record_failed message={} error={}", messageId, e.what());
                 }
                 // Notified under the lock: once it is released, a stop that saw the last
                 // record done may destroy this engine.
                 std::lock_guard<std::mutex> lock(mutex_);
                 --recording_;
                 poked_ = true;        // what waited behind this message in its conversation may go
                 wake_.notify_all();  // the dispatcher, and a stop waiting for the last record
               });
}

int DeliveryEngine::freePlaces() const {
  // Twice the calls in flight: the next ones wait at the send loop for a connection.
  return capacity_ * 2 - busy_;
}

void DeliveryEngine::dispatchLoop() {
  pthread_setname_np(pthread_self(), "delivery-claim");
  auto log = log::get("delivery");
  for (;;) {
    int free = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (stopping_) return;
      free = freePlaces();
    }
    std::optional<std::int64_t> due;
    // Accounts whose next free pacing slot is further away than kPacingHorizon: their due
    // items stay in the outbox, and the dispatcher comes back when that slot draws near.
    std::set<std::string> heldBack;
    auto wakeAt = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    try {
      const app::ChannelSetPtr set = channels_();
      const config::DeliveryConfig cfg = set->config->delivery;
      // Calls handed over per channel that have not taken their pacing slot yet: each will.
      std::map<std::string, int> ahead;
      // A call holds its connection until its slot: claim an account's item only if its slot
      // comes within the horizon, so an account behind its rate limit cannot take the
      // connections (and the claims' places) from the others' due messages.
      auto admit = [&](const OutboxItem& item) {
        const app::RuntimeChannel* channel = set->findById(item.channelId);
        if (!channel) return true;  // send() fails it (the channel left the config)
        const auto now = RateLimiter::Clock::now();
        auto [it, added] = ahead.try_emplace(item.channelId, 0);
        if (added) it->second = sender_->unpaced(item.channelId);
        const auto slot = std::max(limiter_.nextSlot(item.channelId), now) +
                          it->second * RateLimiter::interval(channel->config.rateLimitMps);
        if (slot > now + kPacingHorizon) {
          wakeAt = std::min(wakeAt, slot - kPacingHorizon);
          return false;
        }
        ++it->second;
        return true;
      };
      std::vector<OutboxItem> claimed;
      const auto wakeDefault = wakeAt;
      commit([&](storage::Tx& tx) {
        // From scratch on every run (see Store::write): admit() fills these.
        heldBack.clear();
        ahead.clear();
        wakeAt = wakeDefault;
        claimed.clear();
        const std::int64_t now = util::nowMs();
        expireLeases(tx, now);
        retryUnknown(tx, now, cfg.unknownGraceS * 1000);
        std::int64_t seq = 0;
        if (free > 0) claimed = claimDue(tx, *set, now, cfg.requestTimeoutMs + 30000, free, admit, heldBack, seq);
        due = nextDue(tx, heldBack);
        return seq;
      });
      for (auto& item : claimed) {
        const std::string id = item.messageId;
        try {
          send(std::make_shared<const OutboxItem>(std::move(item)), set);
        } catch (const std::exception& e) {
          // This one's lease runs out and it is retried as of unknown outcome; the others go.
          log->error("delivery.send_failed message={} error={}", id, e.what());
        }
      }
    } catch (const std::exception& e) {
      log->error("delivery.dispatch_failed error={}", e.what());
    }
    std::unique_lock<std::mutex> lock(mutex_);
    // Sleep until the next due item, a held-back account's slot, a poke, or a second
    // (leases and unknown sends age).
    auto until = wakeAt;
    if (due) {
      const auto in = std::chrono::milliseconds(std::max<std::int64_t>(0, *due - util::nowMs()));
      until = std::min(until, std::chrono::steady_clock::now() + in);
    }
    wake_.wait_until(lock, until, [&] { return stopping_ || (poked_ && freePlaces() > 0); });
    poked_ = false;
  }
}

namespace {

http::Counter& outcomeCounter(http::Metrics& metrics, const char* name, const std::string& channelId,
                              const std::string& code) {
  return metrics.counter(name, "Outbound messages by channel and outcome code", {{"channel", channelId}, {"code", code}});
}

}  // namespace

void DeliveryEngine::send(const std::shared_ptr<const OutboxItem>& item, const app::ChannelSetPtr& set) {
  const auto request = SendRequest::fromJson(item->request);
  if (!request) return fail(*item, "invalid_request", "the stored request cannot be read", std::nullopt);

  // The rules again, as of the claim just before this call: an admin may have disabled
  // the channel or blocked the contact since the message was accepted.
  if (const char* blocker = sendBlocker(*set, item->target, *request, util::nowMs())) {
    return fail(*item, blocker,
                std::string(blocker) == "no_identity" ? "the contact has no identity on this channel"
                                                      : "refused when it was due to be sent",
                std::nullopt);
  }
  const crm::Identity& recipient = *item->target.recipient;
  const app::RuntimeChannel* channel = set->findById(item->channelId);

  CallWriter writer(channel->config.graphBaseUrl);
  if (channel->channel->buildSend(outboundView(*request, item->messageId, recipient.externalId, recipient.kind),
                                  writer) != api::Outcome::kOk) {
    return fail(*item, "unsupported_content", "the channel cannot build this message", std::nullopt);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++busy_;
  }
  // The send loop paces it (channel account's slot, taken just before the request is
  // written), sends it, and calls back with the outcome on its thread.
  sender_->submit(std::move(writer.call), channel->config.id, channel->config.rateLimitMps,
                  [this, item, set](const HttpOutcome& outcome) {
                    try {
                      finish(*item, *set, outcome);
                    } catch (const std::exception& e) {
                      // The lease runs out and the item is retried as of unknown outcome.
                      log::get("delivery")->error("delivery.finish_failed message={} error={}", item->messageId,
                                                  e.what());
                    }
                    {
                      std::lock_guard<std::mutex> lock(mutex_);
                      --busy_;
                      poked_ = true;  // a place is free: the next message may go
                    }
                    wake_.notify_all();
                  });
}

void DeliveryEngine::fail(const OutboxItem& item, const std::string& code, const std::string& message,
                          std::optional<std::int64_t> platformCode) {
  // The outcome is recorded without waiting for its commit (see record()).
  record(item.messageId, [id = item.messageId, code, message, platformCode, at = util::nowMs()](storage::Tx& tx) {
    return markFailed(tx, id, code, message, platformCode, at);
  });
  outcomeCounter(metrics_, "gateway_messages_failed_total", item.channelId,
                 platformCode ? code + ":" + std::to_string(*platformCode) : code)
      .inc();
  log::get("delivery")->warn("delivery.failed message={} channel={} code={}", item.messageId, item.channelId, code);
}

void DeliveryEngine::retryOrFail(const OutboxItem& item, const config::DeliveryConfig& cfg, bool rateLimited,
                                 const std::string& why, std::optional<std::int64_t> platformCode) {
  const std::int64_t now = util::nowMs();
  if (item.attempts >= cfg.maxAttempts || now - item.acceptedAt >= cfg.maxAgeS * 1000) {
    return fail(item, "retries_exhausted", why, platformCode);
  }
  const std::int64_t at = now + backoffMs(cfg.retryBaseMs, item.attempts, rateLimited);
  record(item.messageId, [id = item.messageId, at](storage::Tx& tx) {
    scheduleRetry(tx, id, at);
    return std::int64_t{0};
  });
  log::get("delivery")->info("delivery.retry message={} attempt={} reason=\"{}\"", item.messageId, item.attempts, why);
}

void DeliveryEngine::finish(const OutboxItem& item, const app::ChannelSet& set, const HttpOutcome& outcome) {
  const config::DeliveryConfig& cfg = set.config->delivery;
  switch (outcome.kind) {
    case HttpOutcome::Kind::kCancelled:
      // Stopping before the request left: back to pending, sent at the next start.
      record(item.messageId, [id = item.messageId](storage::Tx& tx) {
        releaseUnsent(tx, id, util::nowMs());
        return std::int64_t{0};
      });
      return;
    case HttpOutcome::Kind::kNotSent: return retryOrFail(item, cfg, false, "not sent: " + outcome.error, std::nullopt);
    case HttpOutcome::Kind::kUnknown: {
      // It may have arrived: wait for the echo/status to tell, re-send only after the grace.
      record(item.messageId, [id = item.messageId, now = util::nowMs()](storage::Tx& tx) {
        markUnknown(tx, id, now);
        return std::int64_t{0};
      });
      outcomeCounter(metrics_, "gateway_messages_unknown_total", item.channelId, "timeout").inc();
      log::get("delivery")->warn("delivery.unknown message={} error=\"{}\"", item.messageId, outcome.error);
      return;
    }
    case HttpOutcome::Kind::kResponse: break;
  }
  const app::RuntimeChannel* channel = set.findById(item.channelId);
  ResultReader result;
  if (channel->channel->readSendResult(outcome.status, api::Bytes{outcome.body.data(), outcome.body.size()}, result) !=
      api::Outcome::kOk) {
    return outcome.status >= 500 ? retryOrFail(item, cfg, false, "unreadable answer", std::nullopt)
                                 : fail(item, "platform_error", "unreadable answer from the platform", std::nullopt);
  }
  if (result.ok) {
    record(item.messageId, [id = item.messageId, externalId = result.externalId, now = util::nowMs()](storage::Tx& tx) {
      return markSent(tx, id, externalId, now);
    });
    outcomeCounter(metrics_, "gateway_messages_sent_total", item.channelId, "ok").inc();
    return;
  }
  switch (result.errorClass) {
    case api::SendErrorClass::kTransient: return retryOrFail(item, cfg, false, result.errorMessage, result.platformCode);
    case api::SendErrorClass::kRateLimited: return retryOrFail(item, cfg, true, result.errorMessage, result.platformCode);
    case api::SendErrorClass::kAuth:
      log::get("delivery")->error("delivery.auth_error channel={} code={} (check the access token)", item.channelId,
                                  result.platformCode);
      return fail(item, "platform_auth", result.errorMessage, result.platformCode);
    case api::SendErrorClass::kPermanent: return fail(item, "platform_rejected", result.errorMessage, result.platformCode);
  }
}

}  // namespace gateway::delivery
