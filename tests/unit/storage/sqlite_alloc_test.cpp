#include "storage/sqlite_alloc.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite_db.h"
#include "temp_dir.h"

namespace gateway::storage::sqlite {
namespace {

TEST(SqliteAllocator, EveryBlockHasTheSizeItsRoundUpPromises) {
  for (int n : {0, 1, 7, 8, 63, 64, 65, 1000, 1024, 1032, 4095, 4096, 4097, 5000, 65536, 1 << 20}) {
    void* p = allocate(n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_GE(usableSize(p), n);
    EXPECT_EQ(usableSize(p), roundUp(n)) << n;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0u) << "SQLite wants 8-byte alignment";
    std::memset(p, 0xab, static_cast<std::size_t>(usableSize(p)));  // all of it is ours to use
    release(p);
  }
  release(nullptr);  // as free(NULL)
  EXPECT_EQ(usableSize(nullptr), 0);
}

TEST(SqliteAllocator, ReallocateKeepsTheContentAcrossEverySizeClass) {
  std::string expected;
  void* p = allocate(1);
  std::vector<int> growing;
  for (int n = 1; n < 20000; n = n * 3 / 2 + 1) growing.push_back(n);
  growing.push_back(20000);
  for (int n : growing) {  // up through the small classes into large blocks, then back down
    p = reallocate(p, n);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(std::memcmp(p, expected.data(), expected.size()), 0) << n;  // what was there came along
    while (expected.size() < static_cast<std::size_t>(n)) expected.push_back(static_cast<char>('a' + expected.size() % 26));
    std::memcpy(p, expected.data(), expected.size());
  }
  for (int n = 20000; n >= 1; n = n / 2) {
    p = reallocate(p, n);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(std::memcmp(p, expected.data(), static_cast<std::size_t>(n)), 0) << n;
  }
  release(p);
  void* q = reallocate(nullptr, 100);  // as malloc
  ASSERT_NE(q, nullptr);
  release(q);
}

TEST(SqliteAllocator, AFreedBlockIsReusedByItsThreadAndTheCacheIsBounded) {
  void* a = allocate(1032);  // the savepoint journal's chunk
  const std::size_t before = threadCachedBytes();
  release(a);
  EXPECT_EQ(threadCachedBytes(), before + static_cast<std::size_t>(roundUp(1032)));
  void* b = allocate(1080);
  EXPECT_EQ(b, a) << "same size class: the block just freed";
  release(b);

  std::vector<void*> many;
  for (int i = 0; i < 2000; ++i) many.push_back(allocate(4096));  // 8 MB
  for (void* p : many) release(p);
  EXPECT_LE(threadCachedBytes(), std::size_t{1} << 20) << "the rest went back to malloc";
  EXPECT_GT(threadCachedBytes(), std::size_t{512} << 10);
}

TEST(SqliteAllocator, BlocksMayBeFreedOnAnotherThread) {
  std::vector<void*> blocks;
  for (int i = 0; i < 100; ++i) blocks.push_back(allocate(64 + i * 40));
  std::thread([&] {
    for (void* p : blocks) release(p);
    EXPECT_GT(threadCachedBytes(), 0u);
    void* again = allocate(64);
    EXPECT_EQ(again, blocks[0]) << "reused by the thread that freed it";
    release(again);
  }).join();  // the thread's cache goes back to malloc as it ends
}

// The process runs SQLite on it: a 1,000-byte sqlite3_malloc has the allocator's 1,024.
TEST(SqliteAllocator, SqliteUsesItOnceAConnectionIsOpened) {
  testing::TempDir dir;
  Connection db(dir.path() + "/a.db", Role::kWriter);
  void* p = sqlite3_malloc(1000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(sqlite3_msize(p), 1024u);
  sqlite3_free(p);
  db.execScript("CREATE TABLE t (x TEXT); BEGIN; SAVEPOINT s; INSERT INTO t VALUES ('x'); RELEASE s; COMMIT;");
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM t", {}).at(0).getInt(0), 1);
}

}  // namespace
}  // namespace gateway::storage::sqlite
