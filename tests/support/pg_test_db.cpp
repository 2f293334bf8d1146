#include "pg_test_db.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <libpq-fe.h>

namespace gateway::testing {

namespace {

// The URI with its database (the path segment) replaced; query parameters are kept.
std::string withDatabase(const std::string& uri, const std::string& database) {
  const std::size_t scheme = uri.find("://");
  if (scheme == std::string::npos) {
    throw std::runtime_error("GATEWAY_TEST_PG_URI is not a postgresql:// URI: " + uri);
  }
  const std::size_t authorityEnd = uri.find_first_of("/?#", scheme + 3);
  if (authorityEnd == std::string::npos) return uri + "/" + database;
  const std::size_t pathEnd = uri.find_first_of("?#", authorityEnd);
  return uri.substr(0, authorityEnd) + "/" + database + (pathEnd == std::string::npos ? "" : uri.substr(pathEnd));
}

std::string trimmed(const char* message) {
  std::string out = message != nullptr ? message : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

// A unique, lower-case name: the pid keeps parallel test processes apart, the counter the
// calls of one process, the random part runs that reuse a pid on a server left running.
std::string nextDatabaseName() {
  static std::mutex mutex;
  static unsigned long counter = 0;
  static std::mt19937_64 random{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  char name[64];
  std::snprintf(name, sizeof name, "gwtest_%ld_%lu_%08llx", static_cast<long>(getpid()), ++counter,
                static_cast<unsigned long long>(random() & 0xffffffffULL));
  return name;
}

}  // namespace

std::string postgresServerUri() {
  const char* uri = std::getenv("GATEWAY_TEST_PG_URI");
  return uri != nullptr ? uri : "";
}

std::string freshPostgresDatabase() {
  const std::string admin = postgresServerUri();
  if (admin.empty()) {
    throw std::runtime_error(
        "GATEWAY_TEST_PG_URI is not set: these tests need a PostgreSQL server; start one with "
        "tools/pg-test-server.sh start DIR and export the URI it prints, or run tools/run-tests.sh");
  }
  const std::string name = nextDatabaseName();
  const std::string uri = withDatabase(admin, name);  // throws on a malformed URI first

  // dbname first: libpq expands the URI from it, and connect_timeout then applies on top.
  const char* keywords[] = {"dbname", "connect_timeout", nullptr};
  const char* values[] = {admin.c_str(), "10", nullptr};
  Connection conn(PQconnectdbParams(keywords, values, 1), &PQfinish);
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to the test PostgreSQL server " + admin + ": " +
                             trimmed(conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  // CREATE DATABASE fails with object_in_use (55006) while anyone is connected to template1
  // (say a psql left open there): that passes, so try again a few times.
  for (int attempt = 1;; ++attempt) {
    Result result(PQexec(conn.get(), ("CREATE DATABASE " + name).c_str()), &PQclear);
    if (result && PQresultStatus(result.get()) == PGRES_COMMAND_OK) return uri;
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (attempt < 5 && state != nullptr && std::strcmp(state, "55006") == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      continue;
    }
    throw std::runtime_error("CREATE DATABASE " + name + " on " + admin + " failed: " +
                             trimmed(PQerrorMessage(conn.get())));
  }
}

}  // namespace gateway::testing
