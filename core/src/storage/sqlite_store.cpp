// The SQLite Store: one writer thread doing group commit, a small pool of read connections.
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "storage/migrations.h"
#include "storage/sqlite_db.h"
#include "storage/store.h"
#include "storage/wal_vfs.h"

namespace gateway::storage {

namespace {

using sqlite::Connection;
using sqlite::ConnectionTx;
using sqlite::Role;

void createParentFolder(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw StoreError("sqlite: cannot create folder " + parent.string() + " for " + path + ": " +
                     ec.message());
  }
}

// Connections that each serve one thread at a time; acquire() waits for a free one.
class ReadPool {
 public:
  class Lease {
   public:
    Lease(ReadPool& pool, std::unique_ptr<Connection> db) : pool_(pool), db_(std::move(db)) {}
    ~Lease() { pool_.release(std::move(db_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& db() { return *db_; }

   private:
    ReadPool& pool_;
    std::unique_ptr<Connection> db_;
  };

  void add(std::unique_ptr<Connection> db) { release(std::move(db)); }

  Lease acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    freed_.wait(lock, [this] { return !idle_.empty(); });
    auto db = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(db));
  }

 private:
  void release(std::unique_ptr<Connection> db) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      idle_.push_back(std::move(db));
    }
    freed_.notify_one();
  }

  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

struct WriteJob {
  std::function<void(Tx&)> fn;
  Store::Done done;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const SqliteOptions& options)
      : path_(options.path),
        maxBatchJobs_(std::max<std::size_t>(1, options.maxBatchJobs)),
        walRestartFrames_(std::max(1, options.walRestartFrames)) {
    createParentFolder(path_);
    // The writer's connection opens first: it is the one that switches a new file to WAL.
    // Its VFS writes a commit's WAL frames with one call (see wal_vfs.h).
    auto writerDb = std::make_unique<Connection>(path_, Role::kWriter, walVfs_.name());
    for (int i = 0; i < std::max(1, options.readConnections); ++i) {
      readers_.add(std::make_unique<Connection>(path_, Role::kReader));
    }
    // Checkpoints (copying the WAL back into the database file, with its own fsyncs) run
    // on a thread of their own instead of inside the writer's commits.
    // journal_size_limit: after a burst, the WAL file is cut back when it is reused,
    // instead of keeping its peak size on disk.
    writerDb->execScript("PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;");
    writerDb->trackWalFrames();
    writer_ = std::thread(&SqliteStore::writerLoop, this, std::move(writerDb));
    notifier_ = std::thread(&SqliteStore::notifyLoop, this);
    checkpointer_ = std::thread(&SqliteStore::checkpointLoop, this, std::make_unique<Connection>(path_, Role::kWriter));
  }

  ~SqliteStore() override { close(); }

  void migrate() override {
    // A connection of its own: the writer's belongs to the writer thread, and migrations
    // must not share a group-commit transaction.
    Connection db(path_, Role::kWriter);
    applyMigrations(db, sqliteMigrations());
  }

  int schemaVersion() override {
    auto lease = readers_.acquire();
    return appliedVersion(lease.db());
  }

  using Store::write;
  void write(std::function<void(Tx&)> fn, Done done) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!closing_) {
        queue_.push_back(WriteJob{std::move(fn), std::move(done)});
        wake_.notify_one();
        return;
      }
    }
    done(std::make_exception_ptr(StoreError("sqlite: store closed: " + path_)));
  }

  void read(const std::function<void(Tx&)>& fn) override {
    auto lease = readers_.acquire();
    Connection& db = lease.db();
    // One deferred transaction: every statement in fn sees the snapshot of the first read.
    db.execScript("BEGIN");
    try {
      ConnectionTx tx(db);
      fn(tx);
      db.execScript("COMMIT");
    } catch (...) {
      db.rollbackQuietly();
      throw;
    }
  }

  bool ping() noexcept override {
    try {
      bool ok = false;
      read([&ok](Tx& tx) {
        auto row = tx.queryOne("SELECT 1");
        ok = row && row->getInt(0) == 1;
      });
      return ok;
    } catch (...) {
      return false;  // the answer to "is the database there" is the value itself
    }
  }

  StoreStats stats() const override {
    StoreStats s;
    s.commits = commits_.load();
    s.writeJobs = writeJobs_.load();
    s.maxBatch = maxBatch_.load();
    s.batchReruns = batchReruns_.load();
    return s;
  }

  void close() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    checkpointWake_.notify_one();
    std::lock_guard<std::mutex> lock(joinMutex_);
    if (writer_.joinable()) writer_.join();
    {
      std::lock_guard<std::mutex> finishedLock(finishedMutex_);
      writerDone_ = true;
    }
    finishedReady_.notify_one();
    if (notifier_.joinable()) notifier_.join();
    if (checkpointer_.joinable()) checkpointer_.join();
  }

 private:
  void checkpointLoop(std::unique_ptr<Connection> db) {
    pthread_setname_np(pthread_self(), "sqlite-ckpt");
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        // PASSIVE never blocks the writer or readers; it copies what it can.
        if (checkpointWake_.wait_for(lock, std::chrono::milliseconds(250), [this] { return closing_; })) break;
      }
      try {
        db->query("PRAGMA wal_checkpoint(PASSIVE)", {});
      } catch (const std::exception&) {
        // Busy or failed: the next round tries again; the WAL only grows meanwhile.
      }
    }
    try {
      db->query("PRAGMA wal_checkpoint(TRUNCATE)", {});  // leave a small WAL behind at shutdown
    } catch (const std::exception&) {
    }
  }

  void writerLoop(std::unique_ptr<Connection> db) {
    // Every durable write of the process goes through this one thread: with hundreds of
    // connection threads runnable, a fair share of the CPU would make it the bottleneck.
    // Raising its priority needs CAP_SYS_NICE; without it the call fails and nothing changes.
    pthread_setname_np(pthread_self(), "sqlite-writer");
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), -10);
    std::vector<WriteJob> batch;
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
      commitBatch(*db, batch);
      batch.clear();  // emptied: the jobs went to the notifier with their callbacks
      restartLongWal(*db);
    }
  }

  // Under steady writes the checkpoint thread never catches up with the writer, so the WAL
  // would never start over and would grow without end (every append allocating new disk
  // blocks). Past walRestartFrames_ the writer itself finishes the checkpoint, between
  // batches: it waits for the frames the checkpoint thread has not copied yet, and its next
  // commit reuses the WAL from the start.
  void restartLongWal(Connection& db) {
    if (db.walFrames() < walRestartFrames_) return;
    try {
      // No waiting: while the checkpoint thread is copying, or a reader is still on an old
      // snapshot, it answers "busy" at once and a later batch tries again; the callers'
      // next batch matters more.
      db.execScript("PRAGMA busy_timeout=0");
      db.query("PRAGMA wal_checkpoint(RESTART)", {});
      db.execScript("PRAGMA busy_timeout=5000");  // as every connection has it
    } catch (const std::exception&) {
      // An I/O error: the next commit will meet it too, and fail its callers with it.
      db.execScript("PRAGMA busy_timeout=5000");
    }
  }

  // What one run of a batch left: each job's own failure, or the whole transaction's.
  struct BatchRun {
    std::vector<std::exception_ptr> jobErrors;
    std::exception_ptr batchError;
    bool anyOk = false;
    bool runAgain = false;  // a job failed without a savepoint: everything was rolled back
  };

  // Runs the batch's jobs in one transaction and commits what succeeded. Without savepoints
  // a failing job (in a batch of several) rolls back the whole transaction and asks for a
  // run with them, since its own writes cannot be taken back alone.
  BatchRun runBatch(Connection& db, std::vector<WriteJob>& batch, bool savepoints) {
    BatchRun run;
    run.jobErrors.resize(batch.size());
    try {
      db.execScript("BEGIN IMMEDIATE");
      ConnectionTx tx(db);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (savepoints) db.exec("SAVEPOINT job", {});  // prepared once: these run per job
        try {
          batch[i].fn(tx);
        } catch (...) {
          run.jobErrors[i] = std::current_exception();
        }
        if (!db.inTransaction()) {
          // SQLite gave up the whole transaction (I/O error, disk full), or the job ran
          // COMMIT/ROLLBACK itself: nothing done so far in this batch can be trusted.
          throw StoreError("sqlite: group-commit transaction aborted (" + path_ + ")");
        }
        if (run.jobErrors[i] && !savepoints && batch.size() > 1) {
          db.execScript("ROLLBACK");
          run.runAgain = true;
          return run;
        }
        if (savepoints) {
          if (run.jobErrors[i]) db.exec("ROLLBACK TO job", {});
          db.exec("RELEASE job", {});
        }
        run.anyOk = run.anyOk || !run.jobErrors[i];
      }
      db.execScript(run.anyOk ? "COMMIT" : "ROLLBACK");
    } catch (...) {
      db.rollbackQuietly();
      run.batchError = std::current_exception();
    }
    return run;
  }

  // Jobs first run without savepoints. A savepoint keeps the original of every page its
  // job changes (the batch's hot pages, once per job: ~5 µs of the writer's ~67 µs per
  // send), and jobs rarely fail. When one does, the transaction is rolled back and the batch
  // runs again with a savepoint per job, so that the failure takes back only its own writes
  // (store.h: a job may run more than once). A lone job never needs one.
  void commitBatch(Connection& db, std::vector<WriteJob>& batch) {
    BatchRun run = runBatch(db, batch, /*savepoints=*/false);
    if (run.runAgain) {
      batchReruns_.fetch_add(1);
      run = runBatch(db, batch, /*savepoints=*/true);
    }

    // Stats before the callers hear, so a caller that saw its job done also sees the counts.
    const auto size = static_cast<std::int64_t>(batch.size());
    if (run.anyOk && !run.batchError) {
      commits_.fetch_add(1);
      if (size > maxBatch_.load()) maxBatch_.store(size);  // only this thread writes it
    }
    writeJobs_.fetch_add(size);
    // Only now, after COMMIT returned (fsynced: synchronous=FULL), may callers answer 200.
    // Waking them is a syscall per caller: the notifier thread does it, so the writer can
    // start on the next batch meanwhile.
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

  void notifyLoop() {
    pthread_setname_np(pthread_self(), "sqlite-notify");
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


  const std::string path_;
  sqlite::WalVfs walVfs_;  // declared before the threads: it must outlive the writer's connection
  const std::size_t maxBatchJobs_;
  const int walRestartFrames_;
  ReadPool readers_;

  std::mutex mutex_;  // guards queue_ and closing_
  std::condition_variable wake_;
  std::deque<WriteJob> queue_;
  bool closing_ = false;

  std::mutex joinMutex_;  // close() may be called from several threads and the destructor
  std::thread writer_;
  std::thread checkpointer_;

  struct Finished {
    std::vector<Done> done;
    std::vector<std::exception_ptr> errors;  // null: committed
    // The jobs' closures (request bodies, parsed events...), freed on the notifier thread:
    // 2% of the writer's time on sends went to destroying them.
    std::vector<std::function<void(Tx&)>> jobs;
  };
  std::mutex finishedMutex_;  // guards finished_ and writerDone_
  std::condition_variable finishedReady_;
  std::deque<Finished> finished_;
  bool writerDone_ = false;
  std::thread notifier_;
  std::condition_variable checkpointWake_;  // only for close(); wake_ is the writer's

  std::atomic<std::int64_t> commits_{0};
  std::atomic<std::int64_t> writeJobs_{0};
  std::atomic<std::int64_t> maxBatch_{0};
  std::atomic<std::int64_t> batchReruns_{0};
};

}  // namespace

std::unique_ptr<Store> openSqlite(const SqliteOptions& options) {
  return std::make_unique<SqliteStore>(options);
}

}  // namespace gateway::storage
