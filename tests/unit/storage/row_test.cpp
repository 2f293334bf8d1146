#include <gtest/gtest.h>

#include "storage/store.h"

namespace gateway::storage {
namespace {

Row sampleRow() {
  return Row({Value{Null{}}, Value{std::int64_t{42}}, Value{2.5}, Value{std::string("hi")}});
}

TEST(RowTest, TypedGettersReturnMatchingValues) {
  const Row row = sampleRow();
  EXPECT_TRUE(row.isNull(0));
  EXPECT_EQ(row.getInt(1), 42);
  EXPECT_DOUBLE_EQ(row.getDouble(2), 2.5);
  EXPECT_DOUBLE_EQ(row.getDouble(1), 42.0);  // whole numbers come back as INTEGER
  EXPECT_EQ(row.getText(3), "hi");
}

TEST(RowTest, WrongTypeThrowsStoreError) {
  const Row row = sampleRow();
  EXPECT_THROW(row.getInt(3), StoreError);
  EXPECT_THROW(row.getInt(0), StoreError);
  EXPECT_THROW(row.getText(1), StoreError);
  EXPECT_THROW(row.getDouble(3), StoreError);
}

TEST(RowTest, FindIsEmptyOnlyForNull) {
  const Row row = sampleRow();
  EXPECT_FALSE(row.findText(0).has_value());
  EXPECT_FALSE(row.findInt(0).has_value());
  EXPECT_EQ(row.findText(3), std::optional<std::string>("hi"));
  EXPECT_EQ(row.findInt(1), std::optional<std::int64_t>(42));
  EXPECT_THROW(row.findInt(3), StoreError);
}

}  // namespace
}  // namespace gateway::storage
