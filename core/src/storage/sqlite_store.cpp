// The SQLite Store: the group-commit writer (group_commit.h) on a WAL-mode connection, a
// checkpoint thread, and a small pool of read connections.
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "storage/group_commit.h"
#include "storage/migrations.h"
#include "storage/store_parts.h"
#include "storage/sqlite_db.h"
#include "storage/store.h"
#include "storage/wal_vfs.h"

namespace gateway::storage {

namespace {

using sqlite::Connection;
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

// One gateway process per database file: two would both run the delivery engine and the
// scheduler on one outbox and send messages twice. An flock on "<path>.lock" (not on the
// database file: closing any descriptor of that file would drop SQLite's own POSIX locks),
// held while the store lives; the kernel drops it with the process, however it ends.
class InstanceLock {
 public:
  explicit InstanceLock(const std::string& path) {
    const std::string lockPath = path + ".lock";
    fd_ = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw StoreError("sqlite: cannot open " + lockPath + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd_);
      if (error == EWOULDBLOCK) {
        throw StoreError("sqlite: another gateway instance is using " + path + " (one instance per database)");
      }
      throw StoreError("sqlite: cannot lock " + lockPath + ": " + std::strerror(error));
    }
  }
  ~InstanceLock() { ::close(fd_); }
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  int fd_ = -1;
};

std::unique_ptr<InstanceLock> lockFor(const SqliteOptions& options) {
  if (!options.exclusive) return nullptr;
  createParentFolder(options.path);
  return std::make_unique<InstanceLock>(options.path);
}

// The writer's connection as the group-commit loop drives it, and the WAL's upkeep between
// batches.
class SqliteWriterSession final : public WriterSession {
 public:
  SqliteWriterSession(std::unique_ptr<Connection> db, int walRestartFrames)
      : db_(std::move(db)), tx_(*db_), walRestartFrames_(walRestartFrames) {}

  void begin() override { db_->execScript("BEGIN IMMEDIATE"); }
  void commit() override { db_->execScript("COMMIT"); }
  void rollback() noexcept override { db_->rollbackQuietly(); }
  // Prepared once: these run per job in a batch that runs again.
  void savepoint() override { db_->exec("SAVEPOINT job", {}); }
  void rollbackToSavepoint() override { db_->exec("ROLLBACK TO job", {}); }
  void releaseSavepoint() override { db_->exec("RELEASE job", {}); }
  bool inTransaction() override { return db_->inTransaction(); }
  Tx& tx() override { return tx_; }
  void afterBatch() override { restartLongWal(); }

 private:
  // Under steady writes the checkpoint thread never catches up with the writer, so the WAL
  // would never start over and would grow without end (every append allocating new disk
  // blocks). Past walRestartFrames_ the writer itself finishes the checkpoint, between
  // batches: it waits for the frames the checkpoint thread has not copied yet, and its next
  // commit reuses the WAL from the start.
  void restartLongWal() {
    if (db_->walFrames() < walRestartFrames_) return;
    try {
      // No waiting: while the checkpoint thread is copying, or a reader is still on an old
      // snapshot, it answers "busy" at once and a later batch tries again; the callers'
      // next batch matters more.
      db_->execScript("PRAGMA busy_timeout=0");
      db_->query("PRAGMA wal_checkpoint(RESTART)", {});
      db_->execScript("PRAGMA busy_timeout=5000");  // as every connection has it
    } catch (const std::exception&) {
      // An I/O error: the next commit will meet it too, and fail its callers with it.
      db_->execScript("PRAGMA busy_timeout=5000");
    }
  }

  std::unique_ptr<Connection> db_;
  ConnectionTx<Connection> tx_;
  const int walRestartFrames_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const SqliteOptions& options) : lock_(lockFor(options)), path_(options.path) {
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
    writer_ = std::make_unique<GroupCommitter>(
        std::make_unique<SqliteWriterSession>(std::move(writerDb), std::max(1, options.walRestartFrames)),
        options.maxBatchJobs, "sqlite", path_);
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
  void write(std::function<void(Tx&)> fn, Done done) override { writer_->write(std::move(fn), std::move(done)); }

  void read(const std::function<void(Tx&)>& fn) override {
    // One deferred transaction: every statement in fn sees the snapshot of the first read.
    readInOneTransaction(readers_, "BEGIN", fn);
  }

  bool ping() noexcept override { return pingByRead(*this); }

  StoreStats stats() const override { return writer_->stats(); }

  void close() override {
    writer_->close();
    {
      std::lock_guard<std::mutex> lock(checkpointMutex_);
      closing_ = true;
    }
    checkpointWake_.notify_one();
    std::lock_guard<std::mutex> lock(joinMutex_);
    if (checkpointer_.joinable()) checkpointer_.join();
  }

 private:
  void checkpointLoop(std::unique_ptr<Connection> db) {
    pthread_setname_np(pthread_self(), "sqlite-ckpt");
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(checkpointMutex_);
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

  const std::unique_ptr<InstanceLock> lock_;  // first: released after every connection closed
  const std::string path_;
  sqlite::WalVfs walVfs_;  // declared before the writer: it must outlive the writer's connection
  ReadPool<Connection> readers_;
  std::unique_ptr<GroupCommitter> writer_;

  std::mutex checkpointMutex_;  // guards closing_
  std::condition_variable checkpointWake_;
  bool closing_ = false;
  std::mutex joinMutex_;  // close() may be called from several threads and the destructor
  std::thread checkpointer_;
};

}  // namespace

std::unique_ptr<Store> openSqlite(const SqliteOptions& options) {
  return std::make_unique<SqliteStore>(options);
}

}  // namespace gateway::storage
