#include "storage/migrations.h"

#include <set>

#include "storage/schema_sqlite.h"
#include "storage/sqlite_db.h"

namespace gateway::storage {

const std::vector<Migration>& sqliteMigrations() {
  static const std::vector<Migration> kSteps = {
      {1, "gateway_meta", "CREATE TABLE gateway_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"},
      {2, "crm", schema::kCrm},
      // (version 3 was reserved and not needed)
      {4, "outbound", schema::kOutbound},
      {5, "parked_expiry", schema::kParkedExpiry},
      {6, "events_plain_rowid", schema::kEventsPlainRowid},
      // {7, "name", "CREATE TABLE ...;"},  <- the next step goes here
  };
  return kSteps;
}

namespace {

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

void applyPending(sqlite::Connection& db, const std::vector<Migration>& steps) {
  db.exec(kCreateTable, {});
  std::set<std::int64_t> applied;
  for (const Row& row : db.query("SELECT version FROM schema_migrations", {})) {
    applied.insert(row.getInt(0));
  }
  const int newest = steps.empty() ? 0 : steps.back().version;
  if (!applied.empty() && *applied.rbegin() > newest) {
    throw StoreError("sqlite: " + db.path() + " has schema version " +
                     std::to_string(*applied.rbegin()) + ", newer than this build's " +
                     std::to_string(newest));
  }
  for (const Migration& step : steps) {
    if (applied.count(step.version)) continue;
    db.execScript(step.sql);
    db.exec("INSERT INTO schema_migrations(version, name, applied_at) "
            "VALUES(?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            {std::int64_t{step.version}, std::string(step.name)});
  }
}

}  // namespace

void applyMigrations(sqlite::Connection& db, const std::vector<Migration>& steps) {
  for (std::size_t i = 1; i < steps.size(); ++i) {
    if (steps[i].version <= steps[i - 1].version) {
      throw StoreError("migrations out of order at version " + std::to_string(steps[i].version));
    }
  }
  // IMMEDIATE: take the write lock before reading schema_migrations, so a second process
  // waits (busy_timeout) and then sees our steps as applied instead of repeating them.
  db.execScript("BEGIN IMMEDIATE");
  try {
    applyPending(db, steps);
    db.execScript("COMMIT");
  } catch (...) {
    db.rollbackQuietly();
    throw;
  }
}

int appliedVersion(sqlite::Connection& db) {
  const auto exists = db.query(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", {});
  if (exists.empty()) return 0;
  const auto rows = db.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  return static_cast<int>(rows.at(0).getInt(0));
}

}  // namespace gateway::storage
