#include "storage/wal_vfs.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>

#include <memory>
#include <string>

#include "storage/sqlite_db.h"
#include "temp_dir.h"

namespace gateway::storage {
namespace {

using sqlite::Connection;
using sqlite::Role;
using sqlite::WalVfs;

class WalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_ = std::make_unique<Connection>(path_, Role::kWriter, vfs_.name());
    writer_->execScript("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  }

  // One transaction of n rows of `bytes` characters each.
  void commitRows(int n, int bytes = 400) {
    writer_->execScript("BEGIN IMMEDIATE");
    for (int i = 0; i < n; ++i) writer_->exec("INSERT INTO t (body) VALUES (?)", {std::string(bytes, 'x')});
    writer_->execScript("COMMIT");
  }

  std::int64_t countWith(Connection& db) { return db.query("SELECT COUNT(*) FROM t", {}).at(0).getInt(0); }

  testing::TempDir dir_;
  std::string path_ = dir_.path() + "/w.db";
  WalVfs vfs_;  // before the connection: it must outlive it
  std::unique_ptr<Connection> writer_;
};

TEST_F(WalVfsTest, FramesOfACommitReachTheFileInOneWriteBeforeReadersSeeIt) {
  commitRows(1);  // the WAL header is written and synced on the first commit; measure the next
  const auto before = vfs_.counters();
  commitRows(200);  // about 25 pages: 50 writes without the VFS (frame header + page each)
  EXPECT_EQ(vfs_.counters().walWrites - before.walWrites, 1);
  // Another connection, through the default VFS, reads the frames from the file itself.
  Connection reader(path_, Role::kReader);
  EXPECT_EQ(countWith(reader), 201);
}

TEST_F(WalVfsTest, ARestartedWalKeepsEveryCommit) {
  commitRows(5);
  {
    // A checkpoint elsewhere copies everything back: the writer's next commit starts the
    // WAL over, at offset 0, with a new header.
    Connection checkpointer(path_, Role::kWriter);
    checkpointer.query("PRAGMA wal_checkpoint(TRUNCATE)", {});
  }
  commitRows(2);
  commitRows(3);
  Connection reader(path_, Role::kReader);
  EXPECT_EQ(countWith(reader), 10);
}

TEST_F(WalVfsTest, CommitLargerThanTheBufferAndReopenKeepEverything) {
  commitRows(3000, 4000);  // ~12 MB in one commit: more than the 8 MB gathered at once
  commitRows(10);
  writer_.reset();
  Connection reopened(path_, Role::kWriter);
  EXPECT_EQ(countWith(reopened), 3010);
  EXPECT_EQ(reopened.query("PRAGMA integrity_check", {}).at(0).getText(0), "ok");
}

TEST_F(WalVfsTest, RolledBackTransactionLeavesNothing) {
  commitRows(4);
  writer_->execScript("BEGIN IMMEDIATE");
  writer_->exec("INSERT INTO t (body) VALUES (?)", {std::string("gone")});
  writer_->execScript("ROLLBACK");
  Connection reader(path_, Role::kReader);
  EXPECT_EQ(countWith(reader), 4);
}

// A write the file system refuses (here: past the process's file size limit) fails the
// commit that owned the gathered frames: nothing of it is kept, and the next commit works.
TEST_F(WalVfsTest, AFailedWalWriteFailsTheCommitAndLeavesNothing) {
  commitRows(10);
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &before), 0);
  const auto previousHandler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
  rlimit tight = before;
  tight.rlim_cur = 256 * 1024;  // the 2 MB commit below cannot be written
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tight), 0);
  bool failed = false;
  try {
    commitRows(500, 4000);
  } catch (const StoreError&) {
    failed = true;
  }
  writer_->rollbackQuietly();
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &before), 0);
  std::signal(SIGXFSZ, previousHandler);
  EXPECT_TRUE(failed);
  commitRows(3);
  Connection reader(path_, Role::kReader);
  EXPECT_EQ(countWith(reader), 13);
  EXPECT_EQ(reader.query("PRAGMA integrity_check", {}).at(0).getText(0), "ok");
}

// The writer's per-job savepoints journal every page they change; a writer connection keeps
// that journal in memory instead of spilling it to a temp file past 64 KB.
TEST_F(WalVfsTest, AWritersSavepointJournalStaysInMemory) {
  commitRows(1000, 1000);  // ~250 pages, all changed again below inside a savepoint
  auto rewriteAllInASavepoint = [&](char c) {
    writer_->execScript("BEGIN IMMEDIATE; SAVEPOINT job;");
    writer_->exec("UPDATE t SET body = ?", {std::string(1000, c)});
    writer_->execScript("RELEASE job; COMMIT;");
  };
  const auto before = vfs_.counters();
  rewriteAllInASavepoint('y');
  EXPECT_EQ(vfs_.counters().subjournalFiles - before.subjournalFiles, 0);
  // The same on a connection told to use temp files: one, which is what the test can see.
  writer_->execScript("PRAGMA temp_store=FILE");
  rewriteAllInASavepoint('z');
  EXPECT_EQ(vfs_.counters().subjournalFiles - before.subjournalFiles, 1);
}

}  // namespace
}  // namespace gateway::storage
