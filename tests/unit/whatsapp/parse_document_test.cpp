// meta::ParseDocument: the per-thread parse buffer shared by the Meta plugins' parsers.
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "meta_common.h"

namespace meta = gateway::plugins::meta;

namespace {

// An object whose string values are all `value`, with `n` members "k0".."k<n-1>".
std::string objectOf(int n, const std::string& value) {
  std::string json = "{";
  for (int i = 0; i < n; ++i) json += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"" + value + "\"";
  return json + "}";
}

// Every member is there and still holds `value`.
bool holds(const rapidjson::Document& doc, int n, const std::string& value) {
  if (!doc.IsObject() || static_cast<int>(doc.MemberCount()) != n) return false;
  for (int i = 0; i < n; ++i) {
    const auto it = doc.FindMember(("k" + std::to_string(i)).c_str());
    if (it == doc.MemberEnd() || !it->value.IsString() || value != it->value.GetString()) return false;
  }
  return true;
}

}  // namespace

TEST(ParseDocument, DocumentsOneAfterAnotherOnAThreadEachParse) {
  for (int round = 0; round < 3; ++round) {
    const std::string value = "value-of-round-" + std::to_string(round);
    meta::ParseDocument parsed;
    const std::string json = objectOf(20, value);
    ASSERT_FALSE(parsed.get().Parse(json.data(), json.size()).HasParseError());
    EXPECT_TRUE(holds(parsed.get(), 20, value));
  }
}

// A document alive while another one is parsed on the same thread keeps its values: only
// one of them may use the thread's buffer.
TEST(ParseDocument, ADocumentAliveDuringAnotherParseKeepsItsValues) {
  meta::ParseDocument outer;
  const std::string first = objectOf(50, "outer-value-that-is-longer-than-a-short-string");
  ASSERT_FALSE(outer.get().Parse(first.data(), first.size()).HasParseError());
  {
    meta::ParseDocument inner;
    const std::string second = objectOf(50, "inner-value-that-would-overwrite-the-outer-one");
    ASSERT_FALSE(inner.get().Parse(second.data(), second.size()).HasParseError());
    EXPECT_TRUE(holds(inner.get(), 50, "inner-value-that-would-overwrite-the-outer-one"));
  }
  meta::ParseDocument third;  // after the inner one ended, the outer one still has the buffer
  const std::string json = objectOf(50, "third-value-that-would-overwrite-the-outer-one");
  ASSERT_FALSE(third.get().Parse(json.data(), json.size()).HasParseError());
  EXPECT_TRUE(holds(third.get(), 50, "third-value-that-would-overwrite-the-outer-one"));
  EXPECT_TRUE(holds(outer.get(), 50, "outer-value-that-is-longer-than-a-short-string"));
}

// Larger than the buffer (16 KB): the rest comes from further blocks.
TEST(ParseDocument, ADocumentLargerThanTheBufferParses) {
  const std::string value(100, 'x');
  const std::string json = objectOf(2000, value);  // ~250 KB of values
  for (int round = 0; round < 2; ++round) {
    meta::ParseDocument parsed;
    ASSERT_FALSE(parsed.get().Parse(json.data(), json.size()).HasParseError());
    EXPECT_TRUE(holds(parsed.get(), 2000, value));
  }
}

TEST(ParseDocument, ThreadsParseAtTheSameTime) {
  std::vector<std::thread> threads;
  std::vector<int> wrong(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 200; ++i) {
        const std::string value = "thread-" + std::to_string(t) + "-" + std::to_string(i);
        meta::ParseDocument parsed;
        const std::string json = objectOf(30, value);
        if (parsed.get().Parse(json.data(), json.size()).HasParseError() || !holds(parsed.get(), 30, value)) {
          ++wrong[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}
