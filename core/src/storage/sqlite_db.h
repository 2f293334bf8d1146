// Private to storage/: thin RAII wrappers over the sqlite3 C API. Poco::Data was measured
// 15-35% slower on the insert path, and the group-commit writer wants direct control of
// BEGIN/SAVEPOINT/COMMIT anyway.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gateway::storage::sqlite {

// One prepared statement; finalized on destruction.
// Keeps its own copy of the SQL: the statement cache's key points into it.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, std::string_view sql) : stmt_(stmt), sql_(sql) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  std::string_view sql() const { return sql_; }

 private:
  sqlite3_stmt* stmt_;
  const std::string sql_;
};

enum class Role { kWriter, kReader };

// The process-wide SQLite settings: our allocator (sqlite_alloc.h), no memory statistics.
// They apply only before SQLite's first use, so whatever here opens a VFS or a connection
// calls this first. Idempotent.
void configureProcess();

// One connection, used by one thread at a time (opened SQLITE_OPEN_NOMUTEX).
// Keeps its prepared statements, keyed by SQL text, for the connection's lifetime.
class Connection {
 public:
  // Opens (creating the file) and applies the PRAGMAs every connection needs; a kReader
  // connection is also query_only, so a read() callback cannot write by mistake.
  // vfs: a registered VFS name, or null for SQLite's default.
  Connection(const std::string& path, Role role, const char* vfs = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without parameters or results (BEGIN, migration scripts).
  void execScript(const std::string& sql);
  // Starts a transaction (store_parts.h calls it for either database).
  void begin(const std::string& sql) { execScript(sql); }
  // One statement through the cache; returns sqlite3_changes (0 for a read-only statement).
  std::int64_t exec(std::string_view sql, const std::vector<Value>& params);
  std::vector<Row> query(std::string_view sql, const std::vector<Value>& params);
  // An INSERT: the new rowid, or nullopt when it inserted nothing.
  std::optional<std::int64_t> insert(std::string_view sql, const std::vector<Value>& params);

  // False once SQLite has ended the transaction by itself (some I/O and full-disk errors do).
  bool inTransaction() const;
  // For error paths that are about to rethrow the original failure, which matters more
  // than a failed ROLLBACK (SQLite then has nothing left to undo anyway).
  void rollbackQuietly() noexcept;
  const std::string& path() const { return path_; }

  // From now on walFrames() tells the WAL's length after this connection's last commit
  // (replaces SQLite's automatic checkpointing on this connection).
  void trackWalFrames();
  int walFrames() const { return walFrames_; }

 private:
  sqlite3_stmt* prepare(std::string_view sql);
  std::int64_t run(std::string_view sql, const std::vector<Value>& params, std::vector<Row>* rows);
  [[noreturn]] void fail(int rc, std::string_view sql) const;

  // Dynamic SQL must not grow the cache without bound; past this it is simply emptied.
  static constexpr std::size_t kMaxCachedStatements = 256;

  sqlite3* db_ = nullptr;
  std::string path_;
  // Keyed by a view of the statement's own SQL, so a lookup by a caller's literal copies
  // nothing (every statement used to build a std::string first).
  std::unordered_map<std::string_view, std::unique_ptr<Statement>> cache_;
  // In front of cache_, by the address of the caller's text (a literal or a static string
  // in almost every call): hashing ~150 characters of SQL per statement, 17 statements per
  // send, was 2% of the writer. A hit still compares the text, since a temporary string
  // may come back at an address another one had.
  struct Recent {
    const char* text = nullptr;
    const Statement* statement = nullptr;
  };
  std::array<Recent, 64> recent_{};
  int walFrames_ = 0;
};

}  // namespace gateway::storage::sqlite
