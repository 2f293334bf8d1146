#include "storage/sqlite_db.h"

#include <sqlite3.h>

#include "storage/sqlite_alloc.h"

namespace gateway::storage::sqlite {

namespace {

// A cached statement must be reset after every use, or it keeps its read snapshot open
// (and its bound strings, which point into the caller's params).
struct ResetOnExit {
  sqlite3_stmt* stmt;
  ~ResetOnExit() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

Value readColumn(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return static_cast<std::int64_t>(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_NULL:
      return Null{};
    default: {  // TEXT, and BLOB carried as bytes: Value has no blob alternative
      const void* data = sqlite3_column_blob(stmt, i);
      const int size = sqlite3_column_bytes(stmt, i);
      return data ? std::string(static_cast<const char*>(data), static_cast<std::size_t>(size))
                  : std::string();
    }
  }
}

}  // namespace

void configureProcess() {
  static const bool configured = [] {
    installAllocator();
    // SQLite's memory statistics take a process-wide mutex on every allocation, and nothing
    // here reads them.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;  // each refused (SQLITE_MISUSE) if SQLite was already in use: harmless
  }();
  (void)configured;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Connection::Connection(const std::string& path, Role role, const char* vfs) : path_(path) {
  configureProcess();
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw StoreError("sqlite: cannot open " + path + ": " + message);
  }
  try {
    sqlite3_extended_result_codes(db_, 1);  // tells UNIQUE apart from other constraints
    // Set first, so that switching to WAL waits for another process instead of failing.
    sqlite3_busy_timeout(db_, 5000);
    const auto mode = query("PRAGMA journal_mode=WAL", {});
    if (mode.empty() || mode[0].getText(0) != "wal") {
      throw StoreError("sqlite: " + path + " cannot use WAL journal mode");
    }
    // A 200 to a webhook promises the event survives a power cut: fsync every commit.
    execScript("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (role == Role::kReader) execScript("PRAGMA query_only=ON;");
    // A writer runs each job in a savepoint, whose statement journal keeps the original of
    // every page the job changes. Past 64 KB SQLite spills it to a temp file: two more
    // pwrite()s per page, which measured as two thirds of the writer's bytes on sends.
    // In memory it costs at most one batch's pages.
    if (role == Role::kWriter) execScript("PRAGMA temp_store=MEMORY;");
  } catch (...) {
    cache_.clear();
    sqlite3_close(db_);
    throw;
  }
}

Connection::~Connection() {
  cache_.clear();  // finalize every statement first, or close fails with SQLITE_BUSY
  sqlite3_close(db_);
}

void Connection::execScript(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is available from sqlite3_errmsg in fail()
  if (rc != SQLITE_OK) fail(rc, sql);
}

std::int64_t Connection::exec(std::string_view sql, const std::vector<Value>& params) {
  return run(sql, params, nullptr);
}

std::vector<Row> Connection::query(std::string_view sql, const std::vector<Value>& params) {
  std::vector<Row> rows;
  run(sql, params, &rows);
  return rows;
}

std::optional<std::int64_t> Connection::insert(std::string_view sql, const std::vector<Value>& params) {
  if (run(sql, params, nullptr) == 0) return std::nullopt;
  return sqlite3_last_insert_rowid(db_);
}

void Connection::trackWalFrames() {
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Connection*>(self)->walFrames_ = frames;
        return SQLITE_OK;
      },
      this);
}

bool Connection::inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

void Connection::rollbackQuietly() noexcept {
  if (inTransaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

sqlite3_stmt* Connection::prepare(std::string_view sql) {
  // Fibonacci hashing of the address (texts on the heap lie a fixed distance apart); its
  // top 6 bits pick one of the 64 entries.
  static_assert(std::tuple_size<decltype(recent_)>::value == 64);
  const auto address = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(sql.data()));
  Recent& recent = recent_[(address * 0x9E3779B97F4A7C15ull) >> 58];
  if (recent.text == sql.data() && recent.statement->sql() == sql) return recent.statement->get();
  auto found = cache_.find(sql);
  if (found != cache_.end()) {
    recent = Recent{sql.data(), found->second.get()};
    return found->second->get();
  }
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw,
                                    nullptr);
  if (rc != SQLITE_OK) fail(rc, sql);
  if (raw == nullptr) throw StoreError("sqlite: empty statement: " + std::string(sql));
  auto stmt = std::make_unique<Statement>(raw, sql);
  // Safe to drop everything here: no other statement of this connection is mid-step, since
  // run() always steps to the end and resets before returning.
  if (cache_.size() >= kMaxCachedStatements) {
    cache_.clear();
    recent_.fill(Recent{});
  }
  recent = Recent{sql.data(), stmt.get()};
  const std::string_view key = stmt->sql();
  cache_.emplace(key, std::move(stmt));
  return raw;
}

std::int64_t Connection::run(std::string_view sql, const std::vector<Value>& params,
                             std::vector<Row>* rows) {
  sqlite3_stmt* stmt = prepare(sql);
  ResetOnExit reset{stmt};
  if (sqlite3_bind_parameter_count(stmt) != static_cast<int>(params.size())) {
    throw StoreError("sqlite: statement wants " + std::to_string(sqlite3_bind_parameter_count(stmt)) +
                     " parameters, got " + std::to_string(params.size()) + ": " + std::string(sql));
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    const Value& v = params[i];
    int rc = SQLITE_OK;
    if (std::holds_alternative<Null>(v)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (auto n = std::get_if<std::int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else if (auto d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else {
      const std::string& s = std::get<std::string>(v);
      // SQLITE_STATIC: params outlive the statement's use; ResetOnExit clears the bindings.
      rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    if (rc != SQLITE_OK) fail(rc, sql);
  }
  const int columns = sqlite3_column_count(stmt);
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) fail(rc, sql);
    if (rows == nullptr) continue;
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) values.push_back(readColumn(stmt, c));
    rows->emplace_back(std::move(values));
  }
  // sqlite3_changes keeps the count of the last writing statement; a SELECT changed nothing.
  return sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_);
}

void Connection::fail(int rc, std::string_view sql) const {
  std::string message = "sqlite: " + std::string(sqlite3_errmsg(db_)) + " (" + path_ + ")";
  if (!sql.empty()) message += " in: " + std::string(sql.substr(0, 200));
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    throw UniqueViolation(message);
  }
  throw StoreError(message);
}

}  // namespace gateway::storage::sqlite
