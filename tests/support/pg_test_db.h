// Databases on the test PostgreSQL server (tools/pg-test-server.sh; tools/run-tests.sh starts
// one and exports its URI as GATEWAY_TEST_PG_URI).
#pragma once

#include <string>

namespace gateway::testing {

// URI of the test server's admin database from GATEWAY_TEST_PG_URI; empty when unset.
std::string postgresServerUri();

// Creates a new, empty database with a unique name on that server (owned by the URI's user)
// and returns its URI. Throws std::runtime_error with a clear message when
// GATEWAY_TEST_PG_URI is unset or when the server refuses. Thread-safe. Nothing drops the
// databases: the whole server is thrown away after the run.
std::string freshPostgresDatabase();

}  // namespace gateway::testing
