#include "storage/migrations.h"

#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "storage/sqlite_db.h"
#include "temp_dir.h"

namespace gateway::storage {
namespace {

using sqlite::Connection;
using sqlite::Role;

// Step 1 has no IF NOT EXISTS: running it a second time would fail.
const Migration kStep1{1, "one", "CREATE TABLE one(id INTEGER PRIMARY KEY);"};
const Migration kStep2{2, "two", "CREATE TABLE two(id INTEGER PRIMARY KEY); INSERT INTO two VALUES(7);"};

class MigrationsTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  Connection db_{dir_.path() + "/m.db", Role::kWriter};

  std::int64_t count(const std::string& sql) { return db_.query(sql, {}).at(0).getInt(0); }
};

TEST_F(MigrationsTest, FreshDatabaseIsVersionZero) { EXPECT_EQ(appliedVersion(db_), 0); }

TEST_F(MigrationsTest, AppliesOnlyStepsNotYetRecorded) {
  applyMigrations(db_, {kStep1});
  EXPECT_EQ(appliedVersion(db_), 1);
  applyMigrations(db_, {kStep1, kStep2});
  EXPECT_EQ(appliedVersion(db_), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM schema_migrations"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM two"), 1);
  const auto rows = db_.query("SELECT name, applied_at FROM schema_migrations WHERE version = 2", {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].getText(0), "two");
  EXPECT_FALSE(rows[0].getText(1).empty());
}

TEST_F(MigrationsTest, FailingStepLeavesNothingApplied) {
  const Migration broken{2, "broken", "CREATE TABLE two(id INTEGER); THIS IS NOT SQL;"};
  EXPECT_THROW(applyMigrations(db_, {kStep1, broken}), StoreError);
  EXPECT_EQ(appliedVersion(db_), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('one', 'two')"), 0);
  EXPECT_FALSE(db_.inTransaction());
}

TEST_F(MigrationsTest, RefusesDatabaseNewerThanTheSteps) {
  applyMigrations(db_, {kStep1, kStep2});
  EXPECT_THROW(applyMigrations(db_, {kStep1}), StoreError);
}

TEST_F(MigrationsTest, RefusesStepsOutOfOrder) {
  EXPECT_THROW(applyMigrations(db_, {kStep2, kStep1}), StoreError);
  EXPECT_EQ(appliedVersion(db_), 0);
}

TEST(MigrationsRaceTest, RunnersStartingTogetherApplyEachStepOnce) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/m.db";
  {
    Connection db(path, Role::kWriter);
    applyMigrations(db, {kStep1});  // schema_migrations exists: the race is over reading it
  }
  // Slow enough that every runner has started before the first one commits.
  const Migration slow{2, "slow",
                       "CREATE TABLE two(id INTEGER PRIMARY KEY);"
                       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)"
                       " INSERT INTO two SELECT x FROM c;"};
  constexpr int kRunners = 4;
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  std::vector<std::future<void>> runners;
  for (int i = 0; i < kRunners; ++i) {
    runners.push_back(std::async(std::launch::async, [&path, &slow, started] {
      Connection db(path, Role::kWriter);
      started.wait();
      applyMigrations(db, {kStep1, slow});
    }));
  }
  go.set_value();
  for (auto& runner : runners) EXPECT_NO_THROW(runner.get());
  Connection db(path, Role::kReader);
  EXPECT_EQ(appliedVersion(db), 2);
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM two", {}).at(0).getInt(0), 100000);
}

TEST(SqliteMigrationsTest, VersionsStrictlyIncreaseFromOne) {
  const auto& steps = sqliteMigrations();
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front().version, 1);
  for (std::size_t i = 1; i < steps.size(); ++i) EXPECT_GT(steps[i].version, steps[i - 1].version);
}

// Version 6 rebuilds the events table without AUTOINCREMENT: the feed keeps every event,
// its seq and its order, and the next event continues after the newest.
TEST(SqliteMigrationsTest, EventsLoseAutoincrementAndKeepTheirSeqs) {
  testing::TempDir dir;
  Connection db(dir.path() + "/e.db", Role::kWriter);
  std::vector<Migration> upToFive;
  for (const Migration& m : sqliteMigrations()) {
    if (m.version <= 5) upToFive.push_back(m);
  }
  applyMigrations(db, upToFive);
  for (int i = 0; i < 3; ++i) db.exec("INSERT INTO events (type, at, data) VALUES ('t', 1, '{}')", {});
  db.exec("DELETE FROM events WHERE seq = 2", {});
  applyMigrations(db, sqliteMigrations());
  const std::string sql = db.query("SELECT sql FROM sqlite_master WHERE name = 'events'", {}).at(0).getText(0);
  EXPECT_EQ(sql.find("AUTOINCREMENT"), std::string::npos) << sql;
  std::vector<std::int64_t> seqs;
  for (const Row& r : db.query("SELECT seq FROM events ORDER BY seq", {})) seqs.push_back(r.getInt(0));
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(db.query("INSERT INTO events (type, at, data) VALUES ('t', 2, '{}') RETURNING seq", {}).at(0).getInt(0), 4);
}

}  // namespace
}  // namespace gateway::storage
