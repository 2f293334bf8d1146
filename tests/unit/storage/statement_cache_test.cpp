// sqlite::Connection's prepared statements: found again by their text, whatever the address
// the caller's text is at.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/sqlite_db.h"
#include "temp_dir.h"

namespace gateway::storage {
namespace {

using sqlite::Connection;
using sqlite::Role;

class StatementCacheTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  Connection db_{dir_.path() + "/c.db", Role::kWriter};
};

// A short std::string keeps its text inside itself: each loop turn's text is at the same
// address with other characters. Each must run its own statement.
TEST_F(StatementCacheTest, NewTextAtTheAddressOfAnEarlierOneRunsItsOwnStatement) {
  for (int i = 0; i < 50; ++i) {
    const std::string sql = "SELECT " + std::to_string(i);
    ASSERT_LT(sql.size(), 15u);  // within the string's own buffer
    EXPECT_EQ(db_.query(sql, {}).at(0).getInt(0), i);
  }
  // The same text from two different addresses: one statement, both answer.
  const std::string a = "SELECT 7 + ?";
  const std::string b = a;
  EXPECT_EQ(db_.query(a, {std::int64_t{1}}).at(0).getInt(0), 8);
  EXPECT_EQ(db_.query(b, {std::int64_t{2}}).at(0).getInt(0), 9);
}

// More statements than the connection keeps (256): it starts over, and statements used
// just before (whose texts are still at the same addresses) are prepared again, not taken
// from an entry it forgot.
TEST_F(StatementCacheTest, StatementsUsedAgainAfterTheCacheStartedOverStillRun) {
  constexpr int kKept = 256;
  std::vector<std::string> texts;
  for (int i = 0; i < kKept; ++i) texts.push_back("SELECT " + std::to_string(i) + " AS value_of_a_longer_statement");
  for (int i = 0; i < kKept; ++i) ASSERT_EQ(db_.query(texts[static_cast<std::size_t>(i)], {}).at(0).getInt(0), i);
  EXPECT_EQ(db_.query("SELECT 'one more'", {}).at(0).getText(0), "one more");  // starts over
  for (int round = 0; round < 2; ++round) {
    for (int i = kKept - 1; i >= 0; --i) {  // the most recently used first
      ASSERT_EQ(db_.query(texts[static_cast<std::size_t>(i)], {}).at(0).getInt(0), i) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace gateway::storage
