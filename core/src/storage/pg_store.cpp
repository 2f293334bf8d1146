// The PostgreSQL Store: the same group-commit writer as SQLite's (group_commit.h) on one
// connection, and a pool of read connections each reading one snapshot per read().
#include <algorithm>

#include "storage/group_commit.h"
#include "storage/migrations.h"
#include "storage/pg_db.h"
#include "storage/store_parts.h"
#include "storage/store.h"

namespace gateway::storage {

namespace {

using pg::Connection;

// Held for the store's lifetime by one instance per database (see PgStore). Advisory locks
// are named by two numbers: 1734440037 is "gate" in ASCII; migrations.cpp uses (…, 2).
constexpr const char* kInstanceLock = "SELECT pg_try_advisory_lock(1734440037, 1)";

class PgWriterSession final : public WriterSession {
 public:
  explicit PgWriterSession(std::unique_ptr<Connection> db) : db_(std::move(db)), tx_(*db_) {}

  // A connection lost during a batch fails that batch's callers; the next one reconnects.
  void begin() override { db_->begin("BEGIN"); }
  void commit() override { db_->execScript("COMMIT"); }
  void rollback() noexcept override { db_->rollbackQuietly(); }
  void savepoint() override { db_->execScript("SAVEPOINT job"); }
  void rollbackToSavepoint() override { db_->execScript("ROLLBACK TO SAVEPOINT job"); }
  void releaseSavepoint() override { db_->execScript("RELEASE SAVEPOINT job"); }
  bool inTransaction() override { return db_->inGoodTransaction(); }
  Tx& tx() override { return tx_; }

 private:
  std::unique_ptr<Connection> db_;
  ConnectionTx<Connection> tx_;
};

// One gateway instance per database: the delivery engine, the scheduler and the events
// feed's wake-ups still assume that every write of the database goes through this process
// (docs/DECISIONS.md, "PostgreSQL"). A session-level advisory lock, held on a connection of
// its own, makes a second instance fail at start-up instead of sending messages twice.
class PgStore final : public Store {
 public:
  explicit PgStore(const PostgresOptions& options) : uri_(options.uri) {
    instanceLock_ = std::make_unique<Connection>(uri_);
    server_ = instanceLock_->server();
    // The lock goes with its session. A process that dies with its host sends no FIN, and
    // without keepalives the server would hold the lock for hours (the kernel's default)
    // and keep a replacement from starting; with these it notices within ~25 s.
    instanceLock_->execScript("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
                              "SET tcp_keepalives_count = 3");
    if (instanceLock_->query(kInstanceLock, {}).at(0).getInt(0) != 1) {
      throw StoreError("postgres: another gateway instance is using " + server_ +
                       " (one instance per database; a crashed one's hold ends within ~30 s)");
    }
    for (int i = 0; i < std::max(1, options.readConnections); ++i) {
      readers_.add(std::make_unique<Connection>(uri_));
    }
    writer_ = std::make_unique<GroupCommitter>(
        std::make_unique<PgWriterSession>(std::make_unique<Connection>(uri_)), options.maxBatchJobs,
        "pg", server_);
  }

  ~PgStore() override { close(); }

  void migrate() override {
    Connection db(uri_);
    applyMigrations(db, postgresMigrations());
  }

  int schemaVersion() override {
    auto lease = readers_.acquire();
    if (!lease.db().ensureOpen()) throw StoreError("postgres: connection lost: " + server_);
    return appliedVersion(lease.db());
  }

  using Store::write;
  void write(std::function<void(Tx&)> fn, Done done) override { writer_->write(std::move(fn), std::move(done)); }

  void read(const std::function<void(Tx&)>& fn) override {
    // REPEATABLE READ: every statement in fn sees the snapshot of the first, as in SQLite;
    // READ ONLY: a read() callback cannot write by mistake.
    readInOneTransaction(readers_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", fn);
  }

  bool ping() noexcept override { return pingByRead(*this); }

  StoreStats stats() const override { return writer_->stats(); }

  void close() override { writer_->close(); }

 private:
  const std::string uri_;
  std::string server_;
  std::unique_ptr<Connection> instanceLock_;
  ReadPool<Connection> readers_;
  std::unique_ptr<GroupCommitter> writer_;
};

}  // namespace

std::unique_ptr<Store> openPostgres(const PostgresOptions& options) {
  return std::make_unique<PgStore>(options);
}

}  // namespace gateway::storage
