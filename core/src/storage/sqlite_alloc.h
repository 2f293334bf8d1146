// Private to storage/: SQLite's memory allocator (SQLITE_CONFIG_MALLOC). The writer's
// savepoint journal takes four 1 KB chunks per page a job changes and frees them all at
// the job's end; glibc's per-thread cache holds 7 blocks of a size, so most of them went
// through its locked bins (a sixth of the writer's time on sends was malloc/free). Here
// each thread keeps freed blocks of up to 4 KB in its own lists, bounded in bytes.
#pragma once

#include <cstddef>

namespace gateway::storage::sqlite {

// Installs the allocator; call before SQLite's first use (sqlite3_config refuses later).
// Returns SQLite's result code.
int installAllocator();

// For tests: the allocator's entry points as SQLite calls them.
void* allocate(int bytes);
void release(void* block);
void* reallocate(void* block, int bytes);
int usableSize(void* block);
int roundUp(int bytes);
// Bytes of freed blocks the calling thread keeps for reuse.
std::size_t threadCachedBytes();

}  // namespace gateway::storage::sqlite
