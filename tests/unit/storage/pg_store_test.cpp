// What only the PostgreSQL store does: SQLite's spelling of SQL translated, its schema kept
// in step with SQLite's, one instance per database, lost connections. store_test.cpp runs
// the promises both stores keep.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "pg_test_db.h"
#include "storage/migrations.h"
#include "storage/pg_db.h"
#include "storage/sqlite_db.h"
#include "storage/store.h"
#include "temp_dir.h"

namespace gateway::storage {
namespace {

TEST(PgDialect, PlaceholdersAreNumberedOutsideQuotesOnly) {
  EXPECT_EQ(pg::pgDialect("SELECT '?', \"a?\", ? FROM t WHERE x = ? AND y = 'it''s ?'"),
            "SELECT '?', \"a?\", $1 FROM t WHERE x = $2 AND y = 'it''s ?'");
}

TEST(PgDialect, SqliteIdiomsBecomePostgresOnes) {
  EXPECT_EQ(pg::pgDialect("SELECT 1 WHERE c NOT IN (SELECT value FROM json_each(?)) AND n LIKE ? ESCAPE '\\'"),
            "SELECT 1 WHERE c NOT IN (SELECT value FROM json_array_elements_text(CAST($1 AS json))) "
            "AND n ILIKE $2 ESCAPE '\\'");
  EXPECT_EQ(pg::pgDialect("INSERT INTO events (type) VALUES (?);\n", "seq"),
            "INSERT INTO events (type) VALUES ($1) RETURNING seq");
}

TEST(PgDialect, InsertTableIsTheWordAfterInsertInto) {
  EXPECT_EQ(pg::insertTable("  insert INTO Events (type) VALUES (?)"), "events");
  EXPECT_EQ(pg::insertTable("UPDATE events SET x = 1"), "");
}

class PgStoreTest : public ::testing::Test {
 protected:
  std::string uri_ = gateway::testing::freshPostgresDatabase();

  std::unique_ptr<Store> open() {
    PostgresOptions options;
    options.uri = uri_;
    return openPostgres(options);
  }
};

TEST_F(PgStoreTest, ASecondInstanceOnTheDatabaseIsRefusedUntilTheFirstIsGone) {
  auto first = open();
  try {
    open();
    FAIL() << "a second store opened on the same database";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("another gateway instance"), std::string::npos) << e.what();
  }
  first.reset();
  EXPECT_TRUE(open()->ping());
}

TEST_F(PgStoreTest, MigrationsStartedTogetherApplyEachStepOnce) {
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  std::vector<std::future<void>> done;
  for (int i = 0; i < 4; ++i) {
    done.push_back(std::async(std::launch::async, [this, started] {
      pg::Connection db(uri_);
      started.wait();
      applyMigrations(db, postgresMigrations());
    }));
  }
  go.set_value();
  for (auto& f : done) EXPECT_NO_THROW(f.get());
  pg::Connection db(uri_);
  EXPECT_EQ(appliedVersion(db), postgresMigrations().back().version);
  for (const Row& row : db.query("SELECT version, COUNT(*) FROM schema_migrations GROUP BY version", {})) {
    EXPECT_EQ(row.getInt(1), 1) << "version " << row.getInt(0);
  }
}

// The core's SQL is written once for both databases: a column added to one schema and not
// the other would fail only on that database, at run time.
TEST_F(PgStoreTest, TheSchemaHasTheSameVersionsTablesAndColumnsAsSqlite) {
  std::vector<int> sqliteVersions, pgVersions;
  for (const Migration& m : sqliteMigrations()) sqliteVersions.push_back(m.version);
  for (const Migration& m : postgresMigrations()) pgVersions.push_back(m.version);
  EXPECT_EQ(pgVersions, sqliteVersions);

  testing::TempDir dir;
  sqlite::Connection lite(dir.path() + "/schema.db", sqlite::Role::kWriter);
  applyMigrations(lite, sqliteMigrations());
  std::map<std::string, std::set<std::string>> liteColumns;
  for (const Row& t : lite.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                 "AND name NOT LIKE 'sqlite_%'", {})) {
    for (const Row& c : lite.query("SELECT name FROM pragma_table_info(?)", {t.getText(0)})) {
      liteColumns[t.getText(0)].insert(c.getText(0));
    }
  }

  pg::Connection db(uri_);
  applyMigrations(db, postgresMigrations());
  std::map<std::string, std::set<std::string>> pgColumns;
  for (const Row& c : db.query("SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = current_schema()", {})) {
    pgColumns[c.getText(0)].insert(c.getText(1));
  }
  EXPECT_EQ(pgColumns, liteColumns);
}

// Ids compare bytewise, as in SQLite, whatever the database's locale: pages by id come in
// the same order. And all of them in one collation: a join of a "C" column with a
// default-collation one cannot use the other side's index (a conversation lookup by
// identity went from 26 to 86 µs, a sequential scan of conversations, when only the
// identities' columns were "C").
TEST_F(PgStoreTest, EveryIdColumnComparesBytewise) {
  pg::Connection db(uri_);
  applyMigrations(db, postgresMigrations());
  const auto columns = db.query(
      "SELECT table_name, column_name, COALESCE(collation_name, '') FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> 'gateway_meta' "
      "AND (column_name IN ('id', 'key', 'reply_to') OR column_name LIKE '%\\_id' ESCAPE '\\')", {});
  EXPECT_GE(columns.size(), 20u);
  for (const Row& c : columns) {
    EXPECT_EQ(c.getText(2), "C") << c.getText(0) << "." << c.getText(1);
  }
}

TEST_F(PgStoreTest, BytesIntegersAndInsertKeysComeBackAsSqliteGivesThem) {
  auto store = open();
  store->write([](Tx& tx) {
    tx.exec("CREATE TABLE blobs(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "name TEXT UNIQUE, b BYTEA NOT NULL, n BIGINT)");
  }).get();
  const std::string bytes("a\0b\xff\x01 \\x00", 10);
  std::optional<std::int64_t> first, second, conflict;
  store->write([&](Tx& tx) {
    first = tx.insert("INSERT INTO blobs(name, b, n) VALUES(?, ?, ?)", {std::string("one"), bytes, std::int64_t{1} << 40});
    second = tx.insert("INSERT INTO blobs(name, b, n) VALUES(?, ?, ?)", {std::string("two"), std::string("x"), Null{}});
    conflict = tx.insert("INSERT INTO blobs(name, b) VALUES(?, ?) ON CONFLICT (name) DO NOTHING",
                         {std::string("one"), std::string("y")});
  }).get();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*second, *first + 1);
  EXPECT_FALSE(conflict.has_value());
  store->read([&](Tx& tx) {
    const auto row = tx.queryOne("SELECT b, n, SUM(n) OVER (), n IS NULL, length(b) FROM blobs WHERE id = ?", {*first});
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->getText(0), bytes);
    EXPECT_EQ(row->getInt(1), std::int64_t{1} << 40);
    EXPECT_EQ(row->getInt(2), std::int64_t{1} << 40);  // numeric, whole: an integer
    EXPECT_EQ(row->getInt(3), 0);                      // boolean: 0 or 1
    EXPECT_EQ(row->getInt(4), 10);
    // Text compares bytewise where the schema says so, and LIKE ignores case as in SQLite.
    EXPECT_EQ(tx.query("SELECT id FROM blobs WHERE name LIKE ?", {std::string("ON%")}).size(), 1u);
  });
}

// A server restart or a killed backend: the statement that meets it fails, and the store
// reconnects for the next transaction instead of failing every one after it.
TEST_F(PgStoreTest, AfterItsConnectionsAreKilledTheNextWriteAndReadReconnect) {
  auto store = open();
  store->write([](Tx& tx) { tx.exec("CREATE TABLE items(id INTEGER PRIMARY KEY)"); }).get();
  EXPECT_TRUE(store->ping());
  {
    pg::Connection admin(uri_);
    const auto killed = admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()", {});
    ASSERT_GE(killed.size(), 2u);  // the writer and the readers (and the instance lock)
  }
  EXPECT_NO_THROW(store->write([](Tx& tx) { tx.exec("INSERT INTO items(id) VALUES(1)"); }).get());
  std::int64_t n = 0;
  EXPECT_NO_THROW(store->read([&n](Tx& tx) { n = tx.queryOne("SELECT COUNT(*) FROM items")->getInt(0); }));
  EXPECT_EQ(n, 1);
}

TEST_F(PgStoreTest, AnUnreachableServerIsAClearErrorWithoutThePassword) {
  PostgresOptions options;
  options.uri = "postgresql://gateway:s3cret-pw@127.0.0.1:1/nothing?connect_timeout=2";
  try {
    openPostgres(options);
    FAIL() << "opened a store on a closed port";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("postgres: cannot connect"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret-pw"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace gateway::storage
