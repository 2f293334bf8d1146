// Private to storage/: the group-commit writer both stores share. One thread takes whatever
// jobs are queued, runs them in one transaction and commits once; a notifier thread tells
// the callers afterwards. The database itself is behind WriterSession.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.h"

namespace gateway::storage {

// The writer's connection, as the group-commit loop drives it. Called on the writer thread only.
class WriterSession {
 public:
  virtual ~WriterSession() = default;
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  virtual void savepoint() = 0;
  virtual void rollbackToSavepoint() = 0;
  virtual void releaseSavepoint() = 0;
  // False once the database has ended the transaction by itself (I/O error, lost connection),
  // or a job ran COMMIT/ROLLBACK: nothing done so far in the batch can be trusted.
  virtual bool inTransaction() = 0;
  virtual Tx& tx() = 0;
  // Between batches, for upkeep that must not run inside one (SQLite: restarting the WAL).
  virtual void afterBatch() {}
};

class GroupCommitter {
 public:
  // driver names the threads ("sqlite" → sqlite-writer, sqlite-notify) and, with where
  // (the file or server), the errors ("sqlite: store closed: data/gateway.db").
  GroupCommitter(std::unique_ptr<WriterSession> session, std::size_t maxBatchJobs,
                 std::string driver, std::string where);
  ~GroupCommitter();  // close()

  void write(std::function<void(Tx&)> fn, Store::Done done);
  StoreStats stats() const;
  // Finishes the queued jobs, tells their callers, stops both threads. Idempotent.
  void close();

 private:
  struct Job {
    std::function<void(Tx&)> fn;
    Store::Done done;
  };
  // What one run of a batch left: each job's own failure, or the whole transaction's.
  struct BatchRun {
    std::vector<std::exception_ptr> jobErrors;
    std::exception_ptr batchError;
    bool anyOk = false;
    bool runAgain = false;  // a job failed without a savepoint: everything was rolled back
  };
  struct Finished {
    std::vector<Store::Done> done;
    std::vector<std::exception_ptr> errors;  // null: committed
    // The jobs' closures (request bodies, parsed events...), freed on the notifier thread:
    // 2% of the writer's time on sends went to destroying them.
    std::vector<std::function<void(Tx&)>> jobs;
  };

  void writerLoop();
  BatchRun runBatch(std::vector<Job>& batch, bool savepoints);
  void commitBatch(std::vector<Job>& batch);
  void notifyLoop();

  std::unique_ptr<WriterSession> session_;
  const std::size_t maxBatchJobs_;
  const std::string driver_;
  const std::string where_;

  std::mutex mutex_;  // guards queue_ and closing_
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool closing_ = false;

  std::mutex joinMutex_;  // close() may be called from several threads and the destructor
  std::thread writer_;

  std::mutex finishedMutex_;  // guards finished_ and writerDone_
  std::condition_variable finishedReady_;
  std::deque<Finished> finished_;
  bool writerDone_ = false;
  std::thread notifier_;

  std::atomic<std::int64_t> commits_{0};
  std::atomic<std::int64_t> writeJobs_{0};
  std::atomic<std::int64_t> maxBatch_{0};
  std::atomic<std::int64_t> batchReruns_{0};
};

}  // namespace gateway::storage
