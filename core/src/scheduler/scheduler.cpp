#include "scheduler/scheduler.h"

#include <pthread.h>

#include "crm/repository.h"
#include "log/log.h"
#include "scheduler/schedules.h"
#include "util/clock.h"

namespace gateway::scheduler {

Scheduler::Scheduler(std::function<app::ChannelSetPtr()> channels, storage::Store& store, crm::EventFeed& feed,
                     std::function<void()> onFired)
    : channels_(std::move(channels)), store_(store), feed_(feed), onFired_(std::move(onFired)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() { thread_ = std::thread([this] { loop(); }); }

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    poked_ = true;
  }
  wake_.notify_all();
}

void Scheduler::loop() {
  pthread_setname_np(pthread_self(), "scheduler");
  constexpr int kBatch = 500;
  auto log = log::get("scheduler");
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      poked_ = false;
    }
    std::optional<std::int64_t> next;
    Fired fired;
    try {
      const app::ChannelSetPtr set = channels_();
      const std::int64_t now = util::nowMs();
      const bool housekeeping = now >= nextHousekeepingMs_;
      std::int64_t expired = 0;
      store_.write([&](storage::Tx& tx) {
        fired = fireDue(tx, *set, now, kBatch);
        next = nextSendAt(tx);
        // A status kept for a message that never appeared (another tool's send, or one
        // lost before it was recorded) is useless after a week.
        if (housekeeping) expired = crm::expireParkedStatuses(tx, now - kParkedStatusTtlMs);
      }).get();
      if (housekeeping) {
        nextHousekeepingMs_ = now + 60000;
        if (expired > 0) log->info("scheduler.parked_statuses_expired count={}", expired);
      }
    } catch (const std::exception& e) {
      log->error("scheduler.fire_failed error={}", e.what());
    }
    if (fired.lastEventSeq > 0) feed_.published(fired.lastEventSeq);
    if (fired.sent > 0) onFired_();
    if (fired.sent + fired.failed > 0) log->info("scheduler.fired sent={} failed={}", fired.sent, fired.failed);
    if (fired.sent + fired.failed == kBatch) continue;  // more are due right now

    // Sleep until the next send_at (at most a second: another instance may add schedules).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    if (next) {
      const auto in = std::chrono::milliseconds(std::max<std::int64_t>(0, *next - util::nowMs()));
      until = std::min(until, std::chrono::steady_clock::now() + in);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_until(lock, until, [&] { return stopping_ || poked_; });
  }
}

}  // namespace gateway::scheduler
