// Private to storage/: a thin RAII wrapper over libpq, the PostgreSQL counterpart of
// sqlite_db.h. The rest of the core writes SQL for SQLite with '?' placeholders (store.h);
// pgDialect() turns it into PostgreSQL's, once per statement text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/store.h"

struct pg_conn;

namespace gateway::storage::pg {

// The SQLite spelling of a statement in PostgreSQL's: '?' → $1, $2, … (not inside quotes);
// `json_each(?)` → `json_array_elements_text(CAST($n AS json))`; LIKE → ILIKE (SQLite's LIKE
// ignores ASCII case, PostgreSQL's does not). For insert(), `returning` names the integer
// key to hand back (" RETURNING seq" is appended).
std::string pgDialect(std::string_view sql, std::string_view returning = {});

// The table an INSERT statement writes ("" when the text does not start INSERT INTO).
std::string insertTable(std::string_view insertSql);

class Connection {
 public:
  // Connects (a libpq URI or key=value string); throws StoreError naming the server, never
  // the password.
  explicit Connection(const std::string& uri);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Statements without parameters or results (BEGIN, COMMIT, migration scripts).
  void execScript(const std::string& sql);
  std::int64_t exec(std::string_view sql, const std::vector<Value>& params);
  std::vector<Row> query(std::string_view sql, const std::vector<Value>& params);
  std::optional<std::int64_t> insert(std::string_view sql, const std::vector<Value>& params);

  // True when the connection is usable; reconnects (dropping prepared statements) when not.
  bool ensureOpen() noexcept;
  // Starts a transaction. When the server has gone away since the last statement (restart,
  // failover, idle connection killed), libpq learns it only now: reconnect once and retry,
  // since nothing of this transaction can have been done yet.
  void begin(const std::string& sql);
  // False once the server has aborted the transaction (an error inside it) or none is open.
  bool inGoodTransaction() const;
  void rollbackQuietly() noexcept;
  const std::string& server() const { return server_; }

 private:
  struct Result;
  Result run(std::string_view sql, const std::vector<Value>& params, std::string_view returning);
  struct Statement {
    std::string name;
    std::vector<unsigned int> paramTypes;  // as the server resolved them (Oid)
  };
  // The prepared statement for this text, prepared on first use.
  const Statement& prepared(std::string_view sql, std::string_view returning,
                            const std::vector<Value>& params);
  // The primary-key column of a table, from the catalog (SQLite's rowid has no equivalent).
  const std::string& primaryKeyOf(const std::string& table);

  static constexpr std::size_t kMaxCachedStatements = 256;

  pg_conn* conn_ = nullptr;
  std::string server_;  // host:port/dbname, for messages
  std::unordered_map<std::string, Statement> statements_;  // by SQL text (+ returning)
  std::unordered_map<std::string, std::string> primaryKeys_;  // table → key column
  std::int64_t nextStatement_ = 0;
};

}  // namespace gateway::storage::pg
