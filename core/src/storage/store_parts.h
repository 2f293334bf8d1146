// Private to storage/: the parts both stores are built from, over their own Connection
// class (sqlite_db.h, pg_db.h): the Tx handed to jobs and reads, the pool of read
// connections, a read in one snapshot.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace gateway::storage {

// The Tx handed to callbacks: statements go straight to the connection, which is already
// inside the caller's transaction or savepoint.
template <typename Connection>
class ConnectionTx final : public Tx {
 public:
  explicit ConnectionTx(Connection& db) : db_(db) {}
  std::int64_t exec(std::string_view sql, const std::vector<Value>& params = {}) override {
    return db_.exec(sql, params);
  }
  std::vector<Row> query(std::string_view sql, const std::vector<Value>& params = {}) override {
    return db_.query(sql, params);
  }
  std::optional<std::int64_t> insert(std::string_view sql, const std::vector<Value>& params) override {
    return db_.insert(sql, params);
  }

 private:
  Connection& db_;
};

// Connections that each serve one thread at a time; acquire() waits for a free one.
template <typename Connection>
class ReadPool {
 public:
  class Lease {
   public:
    Lease(ReadPool& pool, std::unique_ptr<Connection> db) : pool_(pool), db_(std::move(db)) {}
    ~Lease() { pool_.release(std::move(db_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& db() { return *db_; }

   private:
    ReadPool& pool_;
    std::unique_ptr<Connection> db_;
  };

  void add(std::unique_ptr<Connection> db) { release(std::move(db)); }

  Lease acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    freed_.wait(lock, [this] { return !idle_.empty(); });
    auto db = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(db));
  }

 private:
  void release(std::unique_ptr<Connection> db) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      idle_.push_back(std::move(db));
    }
    freed_.notify_one();
  }

  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// Store::read(): fn in one read transaction on a pooled connection, begun with beginSql
// (the database's way of asking for one snapshot), rolled back when fn throws.
template <typename Connection>
void readInOneTransaction(ReadPool<Connection>& pool, const std::string& beginSql,
                          const std::function<void(Tx&)>& fn) {
  auto lease = pool.acquire();
  Connection& db = lease.db();
  db.begin(beginSql);
  try {
    ConnectionTx<Connection> tx(db);
    fn(tx);
    db.execScript("COMMIT");
  } catch (...) {
    db.rollbackQuietly();
    throw;
  }
}

// Store::ping(): true when a read of `SELECT 1` answers 1.
inline bool pingByRead(Store& store) noexcept {
  try {
    bool ok = false;
    store.read([&ok](Tx& tx) {
      auto row = tx.queryOne("SELECT 1");
      ok = row && row->getInt(0) == 1;
    });
    return ok;
  } catch (...) {
    return false;  // the answer to "is the database there" is the value itself
  }
}

}  // namespace gateway::storage
