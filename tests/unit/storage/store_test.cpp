#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "storage/store.h"
#include "pg_test_db.h"
#include "temp_dir.h"

namespace gateway::storage {
namespace {

// Holds the writer thread inside a job until open() is called, so the jobs queued meanwhile
// are known to share the following batch(es).
class Gate {
 public:
  std::function<void(Tx&)> job() {
    return [this](Tx&) {
      started_.set_value();
      opened_.wait();
    };
  }
  void waitStarted() { startedFuture_.wait(); }
  void open() { open_.set_value(); }

 private:
  std::promise<void> started_;
  std::future<void> startedFuture_ = started_.get_future();
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
};

std::function<void(Tx&)> insertItem(std::int64_t id) {
  return [id](Tx& tx) { tx.exec("INSERT INTO items(id, v) VALUES(?, ?)", {id, "v" + std::to_string(id)}); };
}

std::int64_t countItems(Store& store) {
  std::int64_t n = -1;
  store.read([&n](Tx& tx) { n = tx.queryOne("SELECT COUNT(*) FROM items")->getInt(0); });
  return n;
}

bool hasItem(Store& store, std::int64_t id) {
  bool found = false;
  store.read([&](Tx& tx) { found = tx.queryOne("SELECT 1 FROM items WHERE id = ?", {id}).has_value(); });
  return found;
}

class StoreFixture : public ::testing::Test {
 protected:
  std::string driver_ = "sqlite";
  testing::TempDir dir_;
  std::string path_ = dir_.path() + "/gateway.db";
  std::string pgUri_;  // a fresh database, created on the first open()
  bool exclusive_ = true;  // SQLite: false lets a test open several stores on one file

  std::unique_ptr<Store> open(std::size_t maxBatchJobs = 1000, int readConnections = 4) {
    if (driver_ == "postgres") {
      if (pgUri_.empty()) pgUri_ = gateway::testing::freshPostgresDatabase();
      PostgresOptions options;
      options.uri = pgUri_;
      options.maxBatchJobs = maxBatchJobs;
      options.readConnections = readConnections;
      return openPostgres(options);
    }
    SqliteOptions options;
    options.path = path_;
    options.maxBatchJobs = maxBatchJobs;
    options.readConnections = readConnections;
    options.exclusive = exclusive_;
    return openSqlite(options);
  }

  std::unique_ptr<Store> openWithItems(std::size_t maxBatchJobs = 1000, int readConnections = 4) {
    auto store = open(maxBatchJobs, readConnections);
    store->write([](Tx& tx) {
      tx.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    }).get();
    return store;
  }
};

// Every store, SQLite and PostgreSQL, keeps the promises of store.h: these tests run on both
// (the PostgreSQL server comes from GATEWAY_TEST_PG_URI, see tools/pg-test-server.sh).
class StoreTest : public StoreFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override { driver_ = GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// What only the SQLite store does (a file, its WAL, several stores on one database).
class SqliteStoreTest : public StoreFixture {};

TEST_F(SqliteStoreTest, OpenCreatesMissingFolders) {
  const std::string nested = dir_.path() + "/a/b/c/gateway.db";
  ASSERT_FALSE(std::filesystem::exists(dir_.path() + "/a"));
  auto store = openSqlite(SqliteOptions{nested});
  EXPECT_TRUE(std::filesystem::is_regular_file(nested));
  EXPECT_TRUE(store->ping());
}

TEST_F(SqliteStoreTest, OpenFailureNamesThePath) {
  std::ofstream(dir_.path() + "/blocker") << "a file, not a folder";
  const std::string bad = dir_.path() + "/blocker/sub/gateway.db";
  try {
    openSqlite(SqliteOptions{bad});
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

TEST_P(StoreTest, MigrateTwiceIsANoOp) {
  auto store = open();
  EXPECT_EQ(store->schemaVersion(), 0);
  store->migrate();
  const int version = store->schemaVersion();
  EXPECT_GE(version, 1);
  store->migrate();
  EXPECT_EQ(store->schemaVersion(), version);
  store->read([](Tx& tx) {
    EXPECT_EQ(tx.queryOne("SELECT COUNT(*) FROM schema_migrations WHERE version = 1")->getInt(0), 1);
  });
  store->write([](Tx& tx) { tx.exec("INSERT INTO gateway_meta(key, value) VALUES('k', 'v')"); }).get();
}

// Two gateways on one file would both deliver the outbox: the second is refused.
TEST_F(SqliteStoreTest, ASecondStoreOnTheFileIsRefusedUntilTheFirstIsGone) {
  auto first = open();
  try {
    open();
    FAIL() << "a second store opened on the same file";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("another gateway instance is using " + path_), std::string::npos)
        << e.what();
  }
  first.reset();
  EXPECT_TRUE(open()->ping());
}

TEST_F(SqliteStoreTest, ConcurrentMigrationsFromSeveralStoresApplyOnce) {
  exclusive_ = false;
  constexpr int kStores = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kStores; ++i) stores.push_back(open());
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  std::vector<std::future<void>> done;
  for (auto& store : stores) {
    done.push_back(std::async(std::launch::async, [&store, started] {
      started.wait();
      store->migrate();
    }));
  }
  go.set_value();
  for (auto& f : done) EXPECT_NO_THROW(f.get());
  stores[0]->read([](Tx& tx) {
    EXPECT_EQ(tx.queryOne("SELECT COUNT(*) FROM schema_migrations WHERE version = 1")->getInt(0), 1);
  });
}

TEST_P(StoreTest, ConcurrentWritersAllLandInFewCommits) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  auto store = openWithItems();
  const auto before = store->stats();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      std::vector<std::future<void>> futures;
      for (int i = 0; i < kPerThread; ++i) futures.push_back(store->write(insertItem(t * kPerThread + i)));
      for (auto& f : futures) f.get();
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(countItems(*store), kThreads * kPerThread);
  const auto after = store->stats();
  const auto jobs = after.writeJobs - before.writeJobs;
  const auto commits = after.commits - before.commits;
  EXPECT_EQ(jobs, kThreads * kPerThread);
  EXPECT_LT(commits * 4, jobs) << "commits=" << commits;  // one commit per job = no grouping
  EXPECT_GT(after.maxBatch, 1);
}

TEST_F(SqliteStoreTest, SteadyWritesDoNotGrowTheWalWithoutEnd) {
  // 64 frames (256 KB) before the WAL starts over; batches of at most 50 jobs of 4 KB.
  SqliteOptions options;
  options.path = path_;
  options.maxBatchJobs = 50;
  options.walRestartFrames = 64;
  auto store = openSqlite(options);
  store->write([](Tx& tx) { tx.exec("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b TEXT NOT NULL)"); }).get();
  // About 20 MB written back to back from 4 threads: the checkpoint thread alone (every
  // 250 ms, never blocking the writer) does not catch up with that.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store] {
      std::vector<std::future<void>> futures;
      for (int i = 0; i < 1250; ++i) {
        futures.push_back(store->write([](Tx& tx) { tx.exec("INSERT INTO blobs(b) VALUES(?)", {std::string(4000, 'b')}); }));
      }
      for (auto& f : futures) f.get();
    });
  }
  for (auto& thread : threads) thread.join();
  // The WAL file keeps its largest size until it is cut back: that is the peak.
  const auto walBytes = std::filesystem::file_size(path_ + "-wal");
  EXPECT_LT(walBytes, 2u << 20) << "WAL grew to " << walBytes << " bytes";
  std::int64_t rows = 0;
  store->read([&](Tx& tx) { rows = tx.queryOne("SELECT COUNT(*) FROM blobs")->getInt(0); });
  EXPECT_EQ(rows, 5000);
}

TEST_P(StoreTest, QueuedJobsShareCommitsUpToTheCap) {
  auto store = openWithItems(/*maxBatchJobs=*/50);
  const auto before = store->stats();
  Gate gate;
  auto held = store->write(gate.job());
  gate.waitStarted();
  std::vector<std::future<void>> futures;
  for (int i = 0; i < 1000; ++i) futures.push_back(store->write(insertItem(i)));
  gate.open();
  for (auto& f : futures) f.get();
  held.get();

  const auto after = store->stats();
  EXPECT_EQ(after.commits - before.commits, 1 + 1000 / 50);
  EXPECT_EQ(after.maxBatch, 50);
  EXPECT_EQ(countItems(*store), 1000);
}

TEST_P(StoreTest, ThrowingJobRollsBackOnlyItsOwnWrites) {
  auto store = openWithItems();
  Gate gate;
  auto held = store->write(gate.job());
  gate.waitStarted();
  auto first = store->write(insertItem(1));
  auto failing = store->write([](Tx& tx) {
    tx.exec("INSERT INTO items(id, v) VALUES(2, 'x')");
    tx.exec("UPDATE items SET v = 'changed' WHERE id = 1");
    throw std::runtime_error("job failed");
  });
  auto last = store->write(insertItem(3));
  gate.open();
  held.get();

  EXPECT_NO_THROW(first.get());
  EXPECT_THROW(failing.get(), std::runtime_error);
  EXPECT_NO_THROW(last.get());
  EXPECT_EQ(store->stats().maxBatch, 3);  // really one shared transaction
  EXPECT_TRUE(hasItem(*store, 1));
  EXPECT_FALSE(hasItem(*store, 2));
  EXPECT_TRUE(hasItem(*store, 3));
  store->read([](Tx& tx) { EXPECT_EQ(tx.queryOne("SELECT v FROM items WHERE id = 1")->getText(0), "v1"); });
}

// Jobs run without savepoints until one fails; then the batch is rolled back and runs
// again, each job in a savepoint (store.h: a job may run more than once).
TEST_P(StoreTest, AFailingJobMakesItsBatchRunAgainAndOnlyTheLastRunCounts) {
  auto store = openWithItems();
  Gate gate;
  auto held = store->write(gate.job());
  gate.waitStarted();
  int firstRuns = 0;
  int failingRuns = 0;
  auto first = store->write([&firstRuns](Tx& tx) {
    ++firstRuns;
    tx.exec("INSERT INTO items(id, v) VALUES(1, ?)", {"run " + std::to_string(firstRuns)});
  });
  auto failing = store->write([&failingRuns](Tx& tx) {
    ++failingRuns;
    tx.exec("INSERT INTO items(id, v) VALUES(2, 'x')");
    throw std::runtime_error("job failed");
  });
  auto last = store->write(insertItem(3));
  const auto before = store->stats();
  gate.open();
  held.get();

  EXPECT_NO_THROW(first.get());
  EXPECT_THROW(failing.get(), std::runtime_error);
  EXPECT_NO_THROW(last.get());
  EXPECT_EQ(firstRuns, 2);
  EXPECT_EQ(failingRuns, 2);
  EXPECT_EQ(store->stats().batchReruns - before.batchReruns, 1);
  EXPECT_EQ(store->stats().maxBatch, 3);  // the three shared one transaction
  store->read([](Tx& tx) { EXPECT_EQ(tx.queryOne("SELECT v FROM items WHERE id = 1")->getText(0), "run 2"); });
  EXPECT_FALSE(hasItem(*store, 2));
  EXPECT_TRUE(hasItem(*store, 3));
}

TEST_P(StoreTest, JobsOfABatchThatSucceedsRunOnce) {
  auto store = openWithItems();
  Gate gate;
  auto held = store->write(gate.job());
  gate.waitStarted();
  std::vector<int> runs(20, 0);
  std::vector<std::future<void>> futures;
  for (int i = 0; i < 20; ++i) {
    futures.push_back(store->write([&runs, i](Tx& tx) {
      ++runs[static_cast<std::size_t>(i)];
      tx.exec("INSERT INTO items(id, v) VALUES(?, 'v')", {static_cast<std::int64_t>(i)});
    }));
  }
  gate.open();
  held.get();
  for (auto& f : futures) f.get();
  EXPECT_EQ(runs, std::vector<int>(20, 1));
  EXPECT_EQ(store->stats().batchReruns, 0);
  EXPECT_EQ(countItems(*store), 20);
}

// A job alone in its batch runs once, without a savepoint: its failure rolls back the whole
// transaction, which holds only its own writes.
TEST_P(StoreTest, ALoneFailingJobRunsOnceAndLeavesNothing) {
  auto store = openWithItems();
  int runs = 0;
  EXPECT_THROW(store
                   ->write([&runs](Tx& tx) {
                     ++runs;
                     tx.exec("INSERT INTO items(id, v) VALUES(1, 'x')");
                     throw std::runtime_error("job failed");
                   })
                   .get(),
               std::runtime_error);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(countItems(*store), 0);
  EXPECT_EQ(store->stats().batchReruns, 0);
  store->write(insertItem(2)).get();  // the writer goes on
  EXPECT_TRUE(hasItem(*store, 2));
}

TEST_P(StoreTest, FailedCommitFailsEveryJobInTheBatch) {
  auto store = openWithItems();
  // A deferred foreign key is checked only at COMMIT: a simple way to make COMMIT fail.
  store->write([](Tx& tx) {
    tx.exec("CREATE TABLE child(id INTEGER PRIMARY KEY, item_id INTEGER "
            "REFERENCES items(id) DEFERRABLE INITIALLY DEFERRED)");
  }).get();
  Gate gate;
  auto held = store->write(gate.job());
  gate.waitStarted();
  auto good = store->write(insertItem(1));
  auto orphan = store->write([](Tx& tx) { tx.exec("INSERT INTO child(id, item_id) VALUES(1, 999)"); });
  gate.open();
  held.get();

  EXPECT_THROW(good.get(), StoreError);
  EXPECT_THROW(orphan.get(), StoreError);
  EXPECT_EQ(countItems(*store), 0);
  store->write(insertItem(2)).get();  // the writer recovered
  EXPECT_TRUE(hasItem(*store, 2));
}

TEST_P(StoreTest, DuplicatePrimaryKeyIsUniqueViolation) {
  auto store = openWithItems();
  store->write(insertItem(1)).get();
  EXPECT_THROW(store->write(insertItem(1)).get(), UniqueViolation);
  try {
    store->write([](Tx& tx) { tx.exec("INSERT INTO items(id, v) VALUES(5, NULL)"); }).get();
    FAIL() << "expected StoreError";
  } catch (const UniqueViolation&) {
    FAIL() << "NOT NULL is not a uniqueness violation";
  } catch (const StoreError&) {
  }
}

TEST_F(SqliteStoreTest, JobMayTreatUniqueViolationAsAValue) {
  auto store = openWithItems();
  store->write(insertItem(1)).get();
  bool duplicate = false;
  store->write([&duplicate](Tx& tx) {
    try {
      tx.exec("INSERT INTO items(id, v) VALUES(1, 'again')");
    } catch (const UniqueViolation&) {
      duplicate = true;
    }
    tx.exec("INSERT INTO items(id, v) VALUES(2, 'two')");
  }).get();
  EXPECT_TRUE(duplicate);
  EXPECT_EQ(countItems(*store), 2);
}

TEST_F(SqliteStoreTest, ReadyWriteIsVisibleToAnotherStoreOnTheFile) {
  exclusive_ = false;
  auto store = openWithItems();
  store->write(insertItem(7)).get();
  auto other = open();
  EXPECT_TRUE(hasItem(*other, 7));
}

TEST_P(StoreTest, ReadSeesOneSnapshot) {
  auto store = openWithItems();
  store->write(insertItem(1)).get();
  std::int64_t first = -1;
  std::int64_t second = -1;
  store->read([&](Tx& tx) {
    first = tx.queryOne("SELECT COUNT(*) FROM items")->getInt(0);
    store->write(insertItem(2)).get();  // committed by the writer while this read is open
    second = tx.queryOne("SELECT COUNT(*) FROM items")->getInt(0);
  });
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(countItems(*store), 2);
}

TEST_P(StoreTest, ReadExceptionPropagatesAndConnectionStaysUsable) {
  auto store = openWithItems(1000, /*readConnections=*/1);
  EXPECT_THROW(store->read([](Tx& tx) {
    tx.query("SELECT * FROM items");
    throw std::logic_error("reader failed");
  }), std::logic_error);
  EXPECT_THROW(store->read([](Tx& tx) { tx.query("SELECT * FROM no_such_table"); }), StoreError);
  EXPECT_EQ(countItems(*store), 0);  // would fail if the transaction were left open
}

TEST_P(StoreTest, ReadCannotWrite) {
  auto store = openWithItems();
  EXPECT_THROW(store->read([](Tx& tx) { tx.exec("INSERT INTO items(id, v) VALUES(1, 'x')"); }), StoreError);
  EXPECT_EQ(countItems(*store), 0);
}

TEST_P(StoreTest, ExecCountsChangesAndQueryReturnsAllRowsByType) {
  auto store = openWithItems();
  std::int64_t updated = -1;
  std::int64_t selected = -1;
  store->write([&](Tx& tx) {
    for (int i = 1; i <= 3; ++i) tx.exec("INSERT INTO items(id, v) VALUES(?, 'a')", {std::int64_t{i}});
    updated = tx.exec("UPDATE items SET v = ? WHERE id >= ?", {std::string("b"), std::int64_t{2}});
    selected = tx.exec("SELECT * FROM items");
  }).get();
  EXPECT_EQ(updated, 2);
  EXPECT_EQ(selected, 0);
  store->read([](Tx& tx) {
    EXPECT_EQ(tx.query("SELECT id FROM items ORDER BY id").size(), 3u);
    EXPECT_FALSE(tx.queryOne("SELECT id FROM items WHERE id = 99").has_value());
    const auto row = tx.queryOne("SELECT ?, ?, ?, ?", {Null{}, std::int64_t{1} << 40, 0.25, std::string("t")});
    ASSERT_TRUE(row.has_value());
    EXPECT_TRUE(row->isNull(0));
    EXPECT_EQ(row->getInt(1), std::int64_t{1} << 40);
    EXPECT_DOUBLE_EQ(row->getDouble(2), 0.25);
    EXPECT_EQ(row->getText(3), "t");
    EXPECT_THROW(tx.query("SELECT ?", {}), StoreError);  // parameter count is checked
  });
}

TEST_P(StoreTest, ForeignKeysAreEnforced) {
  auto store = openWithItems();
  store->write([](Tx& tx) {
    tx.exec("CREATE TABLE child(id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items(id))");
  }).get();
  EXPECT_THROW(store->write([](Tx& tx) { tx.exec("INSERT INTO child VALUES(1, 42)"); }).get(), StoreError);
}

TEST_P(StoreTest, CloseFinishesQueuedJobs) {
  auto store = openWithItems();
  Gate gate;
  auto held = store->write(gate.job());
  gate.waitStarted();
  std::vector<std::future<void>> futures;
  for (int i = 0; i < 100; ++i) futures.push_back(store->write(insertItem(i)));
  std::thread closer([&store] { store->close(); });
  // Once write() refuses, close() has begun; until then the probes are ordinary queued jobs
  // (none can finish while the writer is held at the gate).
  bool refused = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    auto probe = store->write([](Tx&) {});
    refused = probe.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    if (refused) {
      EXPECT_THROW(probe.get(), StoreError);
    } else {
      futures.push_back(std::move(probe));
      std::this_thread::yield();
    }
  }
  EXPECT_TRUE(refused) << "write() kept accepting jobs after close()";
  gate.open();
  closer.join();
  held.get();
  // close() has returned, so every job queued before it must be settled already.
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_NO_THROW(f.get());
  }
  EXPECT_EQ(countItems(*store), 100);
}

TEST_P(StoreTest, WriteAfterCloseFails) {
  auto store = openWithItems();
  store->close();
  auto late = store->write(insertItem(1));
  // A deadline, not a hang, if the job were queued for a writer that is gone.
  ASSERT_EQ(late.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_THROW(late.get(), StoreError);
  store->close();  // twice is fine
}

TEST_P(StoreTest, DoneCallbacksHearEachJobsOutcomeAfterTheCommitOnTheNotifierThread) {
  auto store = openWithItems();
  struct Heard {
    bool called = false;
    bool error = false;
    std::int64_t commits = 0;  // the store's commits when it ran
    std::thread::id thread;
  };
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<Heard> heard(3);
  int calls = 0;
  auto done = [&](std::size_t i) {
    return [&, i](std::exception_ptr error) {
      std::lock_guard<std::mutex> lock(mutex);
      heard[i] = Heard{true, error != nullptr, store->stats().commits, std::this_thread::get_id()};
      ++calls;
      cv.notify_all();
    };
  };
  Gate gate;
  auto held = store->write(gate.job());
  gate.waitStarted();
  store->write(insertItem(1), done(0));
  store->write([](Tx& tx) {
    tx.exec("INSERT INTO items(id, v) VALUES(2, 'x')");
    throw std::runtime_error("job failed");
  }, done(1));
  store->write(insertItem(3), done(2));
  gate.open();
  held.get();
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return calls == 3; }));
  // The table's commit, the held job's, then the three jobs' shared one: heard after it.
  for (const Heard& h : heard) {
    EXPECT_TRUE(h.called);
    EXPECT_EQ(h.commits, 3);
  }
  EXPECT_FALSE(heard[0].error);
  EXPECT_TRUE(heard[1].error);  // its own exception, its writes rolled back
  EXPECT_FALSE(heard[2].error);
  EXPECT_TRUE(hasItem(*store, 1));
  EXPECT_FALSE(hasItem(*store, 2));
  EXPECT_TRUE(hasItem(*store, 3));
  EXPECT_NE(heard[0].thread, std::this_thread::get_id());
  EXPECT_EQ(heard[0].thread, heard[2].thread);
  lock.unlock();

  // After close: called at once with the store's error, not queued for a writer that is gone.
  store->close();
  std::exception_ptr late;
  bool lateCalled = false;
  store->write(insertItem(4), [&](std::exception_ptr error) {
    lateCalled = true;
    late = error;
  });
  ASSERT_TRUE(lateCalled);
  EXPECT_THROW(std::rethrow_exception(late), StoreError);
}

// What a job's closure holds (a request body, parsed events) is freed after its callback,
// on the notifier thread: the writer spends its time on the next batch instead.
TEST_P(StoreTest, AJobsClosureIsFreedAfterItsCallbackOffTheWriterThread) {
  auto store = openWithItems();
  std::mutex mutex;
  std::condition_variable cv;
  std::thread::id writerThread, doneThread, freedThread;
  bool doneCalled = false, freed = false, freedAfterDone = false;
  struct Held {
    std::function<void()> onFree;
    ~Held() { onFree(); }
  };
  auto held = std::make_shared<Held>();
  held->onFree = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    freed = true;
    freedAfterDone = doneCalled;
    freedThread = std::this_thread::get_id();
    cv.notify_all();
  };
  store->write(
      [held, &writerThread](Tx& tx) {
        writerThread = std::this_thread::get_id();
        tx.exec("INSERT INTO items(id, v) VALUES(1, 'x')");
      },
      [&](std::exception_ptr error) {
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT_EQ(error, nullptr);
        doneCalled = true;
        doneThread = std::this_thread::get_id();
      });
  held.reset();  // the job's closure now holds the only reference
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return freed; }));
  EXPECT_TRUE(freedAfterDone);
  EXPECT_EQ(freedThread, doneThread);
  EXPECT_NE(freedThread, writerThread);
}

TEST_P(StoreTest, PingAnswersOnAGoodStore) {
  auto store = open();
  EXPECT_TRUE(store->ping());
}

}  // namespace
}  // namespace gateway::storage
