#include "storage/group_commit.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace gateway::storage {

GroupCommitter::GroupCommitter(std::unique_ptr<WriterSession> session, std::size_t maxBatchJobs,
                               std::string driver, std::string where)
    : session_(std::move(session)), maxBatchJobs_(std::max<std::size_t>(1, maxBatchJobs)),
      driver_(std::move(driver)), where_(std::move(where)) {
  writer_ = std::thread(&GroupCommitter::writerLoop, this);
  notifier_ = std::thread(&GroupCommitter::notifyLoop, this);
}

GroupCommitter::~GroupCommitter() { close(); }

void GroupCommitter::write(std::function<void(Tx&)> fn, Store::Done done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!closing_) {
      queue_.push_back(Job{std::move(fn), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(std::make_exception_ptr(StoreError(driver_ + ": store closed: " + where_)));
}

StoreStats GroupCommitter::stats() const {
  StoreStats s;
  s.commits = commits_.load();
  s.writeJobs = writeJobs_.load();
  s.maxBatch = maxBatch_.load();
  s.batchReruns = batchReruns_.load();
  return s;
}

void GroupCommitter::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  wake_.notify_one();
  std::lock_guard<std::mutex> lock(joinMutex_);
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> finishedLock(finishedMutex_);
    writerDone_ = true;
  }
  finishedReady_.notify_one();
  if (notifier_.joinable()) notifier_.join();
}

void GroupCommitter::writerLoop() {
  // Every durable write of the process goes through this one thread: with hundreds of
  // connection threads runnable, a fair share of the CPU would make it the bottleneck.
  // Raising its priority needs CAP_SYS_NICE; without it the call fails and nothing changes.
  pthread_setname_np(pthread_self(), (driver_ + "-writer").substr(0, 15).c_str());
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), -10);
  std::vector<Job> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing, and every queued job has been done
      // Whatever is queued right now, no waiting for more: latency stays at one commit.
      const std::size_t n = std::min(queue_.size(), maxBatchJobs_);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commitBatch(batch);
    batch.clear();  // emptied: the jobs went to the notifier with their callbacks
    session_->afterBatch();
  }
}

// Runs the batch's jobs in one transaction and commits what succeeded. Without savepoints
// a failing job (in a batch of several) rolls back the whole transaction and asks for a
// run with them, since its own writes cannot be taken back alone.
GroupCommitter::BatchRun GroupCommitter::runBatch(std::vector<Job>& batch, bool savepoints) {
  BatchRun run;
  run.jobErrors.resize(batch.size());
  try {
    session_->begin();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (savepoints) session_->savepoint();
      try {
        batch[i].fn(session_->tx());
      } catch (...) {
        run.jobErrors[i] = std::current_exception();
      }
      if (run.jobErrors[i] && !savepoints && batch.size() > 1) {
        session_->rollback();
        run.runAgain = true;
        return run;
      }
      if (savepoints) {
        if (run.jobErrors[i]) session_->rollbackToSavepoint();
        session_->releaseSavepoint();
      }
      // Checked after every job, so no COMMIT is sent for an aborted transaction (PostgreSQL
      // would answer it as a ROLLBACK that "succeeded").
      if (!session_->inTransaction()) {
        throw StoreError(driver_ + ": group-commit transaction aborted (" + where_ + ")");
      }
      run.anyOk = run.anyOk || !run.jobErrors[i];
    }
    if (run.anyOk) {
      session_->commit();
    } else {
      session_->rollback();
    }
  } catch (...) {
    session_->rollback();
    run.batchError = std::current_exception();
  }
  return run;
}

// Jobs first run without savepoints. A savepoint keeps the original of every page its
// job changes (SQLite: the batch's hot pages, once per job: ~5 µs of the writer's ~67 µs
// per send), and jobs rarely fail. When one does, the transaction is rolled back and the
// batch runs again with a savepoint per job, so that the failure takes back only its own
// writes (store.h: a job may run more than once). A lone job never needs one.
void GroupCommitter::commitBatch(std::vector<Job>& batch) {
  BatchRun run = runBatch(batch, /*savepoints=*/false);
  if (run.runAgain) {
    batchReruns_.fetch_add(1);
    run = runBatch(batch, /*savepoints=*/true);
  }

  // Stats before the callers hear, so a caller that saw its job done also sees the counts.
  const auto size = static_cast<std::int64_t>(batch.size());
  if (run.anyOk && !run.batchError) {
    commits_.fetch_add(1);
    if (size > maxBatch_.load()) maxBatch_.store(size);  // only this thread writes it
  }
  writeJobs_.fetch_add(size);
  // Only now, after COMMIT returned (durable), may callers answer 200. Waking them is a
  // syscall per caller: the notifier thread does it, so the writer can start on the next
  // batch meanwhile.
  Finished finished;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    finished.done.push_back(std::move(batch[i].done));
    finished.jobs.push_back(std::move(batch[i].fn));
    // A job's own failure says the most; otherwise the batch's, if the commit failed.
    finished.errors.push_back(run.jobErrors[i] ? run.jobErrors[i] : run.batchError);
  }
  {
    std::lock_guard<std::mutex> lock(finishedMutex_);
    finished_.push_back(std::move(finished));
  }
  finishedReady_.notify_one();
}

void GroupCommitter::notifyLoop() {
  pthread_setname_np(pthread_self(), (driver_ + "-notify").substr(0, 15).c_str());
  for (;;) {
    Finished next;
    {
      std::unique_lock<std::mutex> lock(finishedMutex_);
      finishedReady_.wait(lock, [this] { return !finished_.empty() || writerDone_; });
      if (finished_.empty()) return;  // the writer has stopped and everything is told
      next = std::move(finished_.front());
      finished_.pop_front();
    }
    for (std::size_t i = 0; i < next.done.size(); ++i) {
      try {
        next.done[i](next.errors[i]);
      } catch (...) {
        // A caller's callback must not throw (store.h); one that does must not stop the rest.
      }
    }
  }
}

}  // namespace gateway::storage
