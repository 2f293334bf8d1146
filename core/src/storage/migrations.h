// The schema as an ordered list of steps per database, and the code that applies the missing ones.
#pragma once

#include <vector>

namespace gateway::storage {

namespace sqlite {
class Connection;
}
namespace pg {
class Connection;
}

struct Migration {
  int version;       // strictly increasing along the list; recorded in schema_migrations
  const char* name;
  const char* sql;   // one or more statements
};

// Oldest first. Change the schema by appending a step; never edit one that has shipped.
const std::vector<Migration>& sqliteMigrations();
// The same versions for PostgreSQL (pg_store.cpp applies them): a schema change adds a step
// to both lists.
const std::vector<Migration>& postgresMigrations();

// Applies, in one transaction, every step whose version schema_migrations does not hold.
// Takes the write lock (BEGIN IMMEDIATE) before looking, so two processes starting at once
// apply each step exactly once. Throws StoreError when the database already has a version
// newer than the last step: this build does not know that schema.
void applyMigrations(sqlite::Connection& db, const std::vector<Migration>& steps);

// Highest applied version; 0 for a database never migrated.
int appliedVersion(sqlite::Connection& db);

// The same for PostgreSQL; a transaction-scoped advisory lock keeps concurrent starts apart.
void applyMigrations(pg::Connection& db, const std::vector<Migration>& steps);
int appliedVersion(pg::Connection& db);

}  // namespace gateway::storage
