// The store: the one place that talks SQL. SQLite is the embedded default; a PostgreSQL
// implementation fills the same interface for several gateway instances.
//
// SQL handed to a Tx uses '?' placeholders and the common subset of SQLite and PostgreSQL
// (the PostgreSQL implementation rewrites '?' to $n).
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gateway::storage {

// A bound parameter or a column value.
struct Null {};
using Value = std::variant<Null, std::int64_t, double, std::string>;

// A bound parameter that is NULL when absent.
inline Value nullable(const std::optional<std::string>& s) { return s ? Value(*s) : Value(Null{}); }
inline Value nullable(const std::optional<std::int64_t>& v) { return v ? Value(*v) : Value(Null{}); }

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  std::size_t size() const { return values_.size(); }
  bool isNull(std::size_t i) const { return std::holds_alternative<Null>(values_.at(i)); }
  std::int64_t getInt(std::size_t i) const;           // throws StoreError when not an integer
  double getDouble(std::size_t i) const;
  std::string getText(std::size_t i) const;           // throws StoreError when not text
  std::optional<std::string> findText(std::size_t i) const;  // empty when NULL
  std::optional<std::int64_t> findInt(std::size_t i) const;  // empty when NULL
  const Value& at(std::size_t i) const { return values_.at(i); }

 private:
  std::vector<Value> values_;
};

// A broken environment (database gone, disk full, constraint bug): an exception inside core.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A uniqueness violation, so callers can treat "already there" as a value.
class UniqueViolation : public StoreError {
 public:
  using StoreError::StoreError;
};

// One transaction (or one savepoint inside a shared group-commit transaction).
class Tx {
 public:
  virtual ~Tx() = default;
  // Runs a statement; returns the number of rows changed.
  virtual std::int64_t exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  virtual std::vector<Row> query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Runs an INSERT into a table with an integer primary key; returns the new row's key, or
  // nullopt when no row went in (ON CONFLICT DO NOTHING). Cheaper than RETURNING in SQLite,
  // which gathers the returned rows in a temporary table first.
  virtual std::optional<std::int64_t> insert(std::string_view sql, const std::vector<Value>& params) = 0;
  std::optional<Row> queryOne(std::string_view sql, const std::vector<Value>& params = {});
};

struct StoreStats {
  std::int64_t commits = 0;      // write transactions committed
  std::int64_t writeJobs = 0;    // write() jobs completed (committed or failed)
  std::int64_t maxBatch = 0;     // most jobs in one commit
  std::int64_t batchReruns = 0;  // batches run again, each job in a savepoint, after a job failed
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies pending schema migrations; safe to call again (already-applied ones are skipped).
  virtual void migrate() = 0;
  // Schema version after migrate().
  virtual int schemaVersion() = 0;

  // Queues fn to run on the single writer, inside a transaction shared with whatever other
  // jobs are queued (group commit). The future becomes ready only after that transaction is
  // durably committed; it carries fn's exception (only fn's own writes are rolled back, via
  // a savepoint) or a StoreError when the commit itself failed.
  // fn runs on the writer thread: it must not wait on another write() (that would deadlock)
  // nor run BEGIN/COMMIT/ROLLBACK itself, nor go on after a statement of its own threw
  // (PostgreSQL aborts the transaction at the error; the job must let it propagate). It may
  // run more than once: when another job of its batch fails, the batch is rolled back and
  // run again (group_commit.h). Only the last run's writes count, so fn must start afresh
  // each time: set (not add to) what it hands back, and change nothing outside the
  // transaction (no counters, no wake-ups: the done callback or the caller after the future
  // does those).
  std::future<void> write(std::function<void(Tx&)> fn);

  // The same without a future, for a caller that does not wait: `done` is called once the
  // transaction is durably committed (with null) or has failed (with what the future would
  // carry). It runs on the store's notifier thread: it must be quick, must not throw and
  // must not wait on the store. (A future's std::promise costs that thread two futex calls
  // per job, and its caller a thread sleeping until then.)
  using Done = std::function<void(std::exception_ptr error)>;
  virtual void write(std::function<void(Tx&)> fn, Done done) = 0;

  // Runs fn on a read connection (a consistent snapshot); may run concurrently with writes.
  virtual void read(const std::function<void(Tx&)>& fn) = 0;

  // True when the database answers a trivial query.
  virtual bool ping() noexcept = 0;

  virtual StoreStats stats() const = 0;

  // Stops the writer after finishing queued jobs.
  virtual void close() = 0;
};

struct SqliteOptions {
  std::string path;              // file; its folder is created when missing
  std::size_t maxBatchJobs = 1000;  // cap on jobs per group commit
  int readConnections = 4;
  // The writer restarts the WAL from its start once it holds this many frames (about 64 MB
  // of 4 KB pages), so steady writes cannot grow it without end.
  int walRestartFrames = 16384;
  // One store per database file, across processes: a second one is refused (StoreError)
  // while this one lives. Off only for tests that open several stores on one file.
  bool exclusive = true;
};

std::unique_ptr<Store> openSqlite(const SqliteOptions& options);

struct PostgresOptions {
  std::string uri;               // libpq URI: postgresql://user:password@host:port/dbname
  std::size_t maxBatchJobs = 1000;
  int readConnections = 4;
};

// Connects (throws StoreError when it cannot, or when another gateway instance already uses
// the database, as SqliteOptions::exclusive); the schema is created by migrate(), as for
// SQLite.
std::unique_ptr<Store> openPostgres(const PostgresOptions& options);

}  // namespace gateway::storage
