#include "storage/pg_db.h"

#include <libpq-fe.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gateway::storage::pg {

namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26,
              kFloat4 = 700, kFloat8 = 701, kNumeric = 1700;
constexpr const char* kUniqueViolation = "23505";

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A bytea column in text format: "\x" and two hex digits a byte (bytea_output = hex).
std::string decodeBytea(const char* text, int length) {
  if (length < 2 || text[0] != '\\' || text[1] != 'x') return std::string(text, static_cast<std::size_t>(length));
  std::string out;
  out.reserve(static_cast<std::size_t>(length - 2) / 2);
  for (int i = 2; i + 1 < length; i += 2) {
    out.push_back(static_cast<char>(hexValue(text[i]) * 16 + hexValue(text[i + 1])));
  }
  return out;
}

Value columnValue(const PGresult* res, int row, int column) {
  if (PQgetisnull(res, row, column)) return Null{};
  const char* text = PQgetvalue(res, row, column);
  const int length = PQgetlength(res, row, column);
  switch (PQftype(res, column)) {
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
      return std::int64_t{std::strtoll(text, nullptr, 10)};
    case kBool:
      return std::int64_t{text[0] == 't' ? 1 : 0};
    case kFloat4:
    case kFloat8:
      return std::strtod(text, nullptr);
    case kNumeric:
      // SUM() of integers is numeric: whole numbers stay integers, as SQLite returns them.
      if (std::strpbrk(text, ".eEnN") == nullptr) return std::int64_t{std::strtoll(text, nullptr, 10)};
      return std::strtod(text, nullptr);
    case kBytea:
      return decodeBytea(text, length);
    default:
      return std::string(text, static_cast<std::size_t>(length));
  }
}

void ignoreNotice(void*, const char*) {}  // "already exists, skipping" and the like

// libpq's messages end in a newline.
std::string withoutTrailingSpace(std::string message) {
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) message.pop_back();
  return message;
}

}  // namespace

std::string pgDialect(std::string_view sql, std::string_view returning) {
  // The core's statements never put these words inside string literals.
  std::string text(sql);
  replaceAll(text, "json_each(?)", "json_array_elements_text(CAST(? AS json))");
  replaceAll(text, " LIKE ", " ILIKE ");
  std::string out;
  out.reserve(text.size() + 16);
  char quote = 0;
  int next = 1;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: same result
      out.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
    } else if (c == '?') {
      out += '$' + std::to_string(next++);
    } else {
      out.push_back(c);
    }
  }
  if (!returning.empty()) {
    while (!out.empty() && (std::isspace(static_cast<unsigned char>(out.back())) || out.back() == ';')) out.pop_back();
    out += " RETURNING ";
    out += returning;
  }
  return out;
}

std::string insertTable(std::string_view sql) {
  std::size_t i = 0;
  auto skipSpace = [&] {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  };
  auto word = [&]() {
    skipSpace();
    const std::size_t start = i;
    while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
    std::string w(sql.substr(start, i - start));
    for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return w;
  };
  if (word() != "insert" || word() != "into") return "";
  return word();
}

struct Connection::Result {
  PGresult* res = nullptr;
  explicit Result(PGresult* r) : res(r) {}
  Result(Result&& o) noexcept : res(o.res) { o.res = nullptr; }
  ~Result() { PQclear(res); }
};

Connection::Connection(const std::string& uri) {
  conn_ = PQconnectdb(uri.c_str());
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
    server_ = std::string(PQhost(conn_)) + ":" + PQport(conn_) + "/" + PQdb(conn_);
    PQsetNoticeProcessor(conn_, ignoreNotice, nullptr);
    return;
  }
  // libpq's message names host and port, and never the password.
  const std::string message = withoutTrailingSpace(conn_ ? PQerrorMessage(conn_) : "out of memory");
  PQfinish(conn_);
  conn_ = nullptr;
  throw StoreError("postgres: cannot connect: " + message);
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::ensureOpen() noexcept {
  if (PQstatus(conn_) == CONNECTION_OK) return true;
  PQreset(conn_);  // a new session: the prepared statements are gone with the old one
  statements_.clear();
  if (PQstatus(conn_) != CONNECTION_OK) return false;
  PQsetNoticeProcessor(conn_, ignoreNotice, nullptr);
  return true;
}

void Connection::begin(const std::string& sql) {
  try {
    execScript(sql);
  } catch (const StoreError&) {
    if (PQstatus(conn_) == CONNECTION_OK || !ensureOpen()) throw;
    execScript(sql);
  }
}

bool Connection::inGoodTransaction() const { return PQtransactionStatus(conn_) == PQTRANS_INTRANS; }

void Connection::rollbackQuietly() noexcept { PQclear(PQexec(conn_, "ROLLBACK")); }

namespace {

[[noreturn]] void fail(const PGresult* res, pg_conn* conn, std::string_view sql) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message = "postgres: " +
                              withoutTrailingSpace(res ? PQresultErrorMessage(res) : PQerrorMessage(conn)) +
                              " (in: " + std::string(sql.substr(0, 200)) + ")";
  if (state && std::strcmp(state, kUniqueViolation) == 0) throw UniqueViolation(message);
  throw StoreError(message);
}

bool succeeded(const PGresult* res) {
  const auto status = PQresultStatus(res);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

void Connection::execScript(const std::string& sql) {
  Result r(PQexec(conn_, sql.c_str()));
  if (!succeeded(r.res)) fail(r.res, conn_, sql);
}

const Connection::Statement& Connection::prepared(std::string_view sql, std::string_view returning,
                                                  const std::vector<Value>& params) {
  std::string key(sql);
  if (!returning.empty()) key.append("\x01").append(returning);
  if (auto it = statements_.find(key); it != statements_.end()) return it->second;

  if (statements_.size() >= kMaxCachedStatements) {
    execScript("DEALLOCATE ALL");
    statements_.clear();
  }
  // Integers are bound as int8 and doubles as float8, so `x + ?` and `LIMIT ?` stay 64-bit;
  // text and NULL take the type the statement gives them.
  std::vector<Oid> types;
  types.reserve(params.size());
  for (const Value& v : params) {
    types.push_back(std::holds_alternative<std::int64_t>(v) ? kInt8
                    : std::holds_alternative<double>(v)     ? kFloat8
                                                            : Oid{0});
  }
  Statement statement;
  statement.name = "s" + std::to_string(nextStatement_++);
  const std::string text = pgDialect(sql, returning);
  Result r(PQprepare(conn_, statement.name.c_str(), text.c_str(), static_cast<int>(params.size()),
                     types.data()));
  if (!succeeded(r.res)) fail(r.res, conn_, text);
  // What the server made of each parameter: text goes as text, except into bytea.
  Result described(PQdescribePrepared(conn_, statement.name.c_str()));
  if (!succeeded(described.res)) fail(described.res, conn_, text);
  for (int i = 0; i < PQnparams(described.res); ++i) statement.paramTypes.push_back(PQparamtype(described.res, i));
  return statements_.emplace(std::move(key), std::move(statement)).first->second;
}

Connection::Result Connection::run(std::string_view sql, const std::vector<Value>& params,
                                   std::string_view returning) {
  const Statement& statement = prepared(sql, returning, params);
  const std::size_t n = params.size();
  std::vector<std::string> numbers(n);
  std::vector<const char*> values(n, nullptr);
  std::vector<int> lengths(n, 0);
  std::vector<int> formats(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const Value& v = params[i];
    if (auto s = std::get_if<std::string>(&v)) {
      values[i] = s->c_str();
      lengths[i] = static_cast<int>(s->size());
      // Into bytea the bytes go as they are (binary: no escaping, NULs kept); into anything
      // else as text, which the server parses for the parameter's type.
      formats[i] = i < statement.paramTypes.size() && statement.paramTypes[i] == kBytea ? 1 : 0;
    } else if (auto k = std::get_if<std::int64_t>(&v)) {
      numbers[i] = std::to_string(*k);
      values[i] = numbers[i].c_str();
    } else if (auto d = std::get_if<double>(&v)) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.17g", *d);
      numbers[i] = buffer;
      values[i] = numbers[i].c_str();
    }
  }
  Result r(PQexecPrepared(conn_, statement.name.c_str(), static_cast<int>(n), values.data(), lengths.data(),
                          formats.data(), 0));
  if (!succeeded(r.res)) fail(r.res, conn_, sql);
  return r;
}

std::int64_t Connection::exec(std::string_view sql, const std::vector<Value>& params) {
  Result r = run(sql, params, {});
  // Rows changed, as sqlite3_changes: a SELECT changes none (its tag counts rows read).
  if (std::strncmp(PQcmdStatus(r.res), "SELECT", 6) == 0) return 0;
  const char* changed = PQcmdTuples(r.res);
  return *changed ? std::strtoll(changed, nullptr, 10) : 0;
}

std::vector<Row> Connection::query(std::string_view sql, const std::vector<Value>& params) {
  Result r = run(sql, params, {});
  const int rows = PQntuples(r.res);
  const int columns = PQnfields(r.res);
  std::vector<Row> out;
  out.reserve(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) values.push_back(columnValue(r.res, i, c));
    out.emplace_back(std::move(values));
  }
  return out;
}

const std::string& Connection::primaryKeyOf(const std::string& table) {
  if (auto it = primaryKeys_.find(table); it != primaryKeys_.end()) return it->second;
  const auto rows = query(
      "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
      "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary",
      {table});
  if (rows.size() != 1) {
    throw StoreError("postgres: insert() needs a table with a one-column primary key: " + table);
  }
  return primaryKeys_.emplace(table, rows[0].getText(0)).first->second;
}

std::optional<std::int64_t> Connection::insert(std::string_view sql, const std::vector<Value>& params) {
  const std::string table = insertTable(sql);
  if (table.empty()) throw StoreError("postgres: insert() of a statement that is not INSERT INTO");
  const std::string& key = primaryKeyOf(table);
  Result r = run(sql, params, key);
  if (PQntuples(r.res) == 0) return std::nullopt;  // ON CONFLICT DO NOTHING
  return std::strtoll(PQgetvalue(r.res, 0, 0), nullptr, 10);
}

}  // namespace gateway::storage::pg
