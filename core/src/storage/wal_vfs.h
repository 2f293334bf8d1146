// Private to storage/: the VFS the SQLite writer connection opens its database with.
//
// Why: the single writer spends most of its time in system calls, which are expensive on
// the virtual machines we run on, and SQLite writes every WAL frame as two pwrite()s (a
// 24-byte header, then the page): a commit of 100 pages was 200 calls. This VFS wraps the
// default one and, for the WAL file only, gathers a commit's frames in memory and writes
// them with one pwrite() when SQLite syncs (before it publishes the commit to readers), or
// before any read, size query, truncation or non-contiguous write of that file. The sync
// itself is SQLite's, unchanged: a commit is on disk before the caller hears of it. That
// needs `synchronous=FULL`, which every Connection sets: without a sync at commit, readers
// would be told of frames still in this buffer.
// Every other file (the database, temp files) is the default VFS's, only counted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace gateway::storage::sqlite {

class WalVfs {
 public:
  // Registers a VFS with a unique name wrapping the default VFS.
  WalVfs();
  ~WalVfs();  // unregisters; every connection using it must be closed by then
  WalVfs(const WalVfs&) = delete;
  WalVfs& operator=(const WalVfs&) = delete;

  const char* name() const;

  // What reached the files, for tests.
  struct Counters {
    std::int64_t walWrites = 0;           // pwrite()s to the WAL file
    std::int64_t subjournalFiles = 0;     // statement journals that spilled to a temp file
  };
  Counters counters() const;

  struct State;  // shared with the C callbacks

 private:
  std::unique_ptr<State> state_;
};

}  // namespace gateway::storage::sqlite
