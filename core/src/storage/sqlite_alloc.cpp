#include "storage/sqlite_alloc.h"

#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace gateway::storage::sqlite {

namespace {

// Each block carries its usable size in front of it; 16 bytes keep malloc's alignment.
constexpr std::size_t kHeader = 16;
constexpr std::size_t kClassBytes = 64;
constexpr std::size_t kClasses = 64;                       // sizes up to 4 KB are cached
constexpr std::size_t kLargest = kClassBytes * kClasses;
constexpr std::size_t kThreadCacheBytes = std::size_t{1} << 20;  // per thread, at most

std::size_t& sizeOf(void* block) { return *reinterpret_cast<std::size_t*>(static_cast<char*>(block) - kHeader); }

std::size_t classOf(std::size_t usable) { return usable / kClassBytes - 1; }

std::size_t rounded(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= kLargest) return (bytes + kClassBytes - 1) / kClassBytes * kClassBytes;
  return (bytes + 7) / 8 * 8;
}

// Freed blocks of one thread, by size class; a block's first bytes link to the next.
struct ThreadCache {
  void* heads[kClasses] = {};
  std::size_t bytes = 0;
  bool alive = true;

  ~ThreadCache() {
    alive = false;  // blocks freed later on this thread (other thread_locals) go to free()
    for (void*& head : heads) {
      while (head != nullptr) {
        void* next = *static_cast<void**>(head);
        std::free(static_cast<char*>(head) - kHeader);
        head = next;
      }
    }
  }
};

thread_local ThreadCache cache;

void* fresh(std::size_t usable) {
  void* raw = std::malloc(kHeader + usable);
  if (raw == nullptr) return nullptr;
  void* block = static_cast<char*>(raw) + kHeader;
  sizeOf(block) = usable;
  return block;
}

void* xMalloc(int bytes) { return allocate(bytes); }
void xFree(void* block) { release(block); }
void* xRealloc(void* block, int bytes) { return reallocate(block, bytes); }
int xSize(void* block) { return usableSize(block); }
int xRoundup(int bytes) { return roundUp(bytes); }
int xInit(void*) { return SQLITE_OK; }
void xShutdown(void*) {}

}  // namespace

void* allocate(int bytes) {
  if (bytes < 0) return nullptr;
  const std::size_t usable = rounded(static_cast<std::size_t>(bytes));
  if (usable <= kLargest && cache.alive) {
    void*& head = cache.heads[classOf(usable)];
    if (head != nullptr) {
      void* block = head;
      head = *static_cast<void**>(block);
      cache.bytes -= usable;
      return block;
    }
  }
  return fresh(usable);
}

void release(void* block) {
  if (block == nullptr) return;
  const std::size_t usable = sizeOf(block);
  if (usable <= kLargest && cache.alive && cache.bytes + usable <= kThreadCacheBytes) {
    void*& head = cache.heads[classOf(usable)];
    *static_cast<void**>(block) = head;
    head = block;
    cache.bytes += usable;
    return;
  }
  std::free(static_cast<char*>(block) - kHeader);
}

void* reallocate(void* block, int bytes) {
  if (block == nullptr) return allocate(bytes);
  if (bytes < 0) return nullptr;
  const std::size_t usable = sizeOf(block);
  const std::size_t wanted = rounded(static_cast<std::size_t>(bytes));
  if (wanted <= usable && (usable <= kLargest || wanted > kLargest)) return block;
  if (usable > kLargest && wanted > kLargest) {  // large to large: glibc may grow it in place
    void* raw = std::realloc(static_cast<char*>(block) - kHeader, kHeader + wanted);
    if (raw == nullptr) return nullptr;
    void* moved = static_cast<char*>(raw) + kHeader;
    sizeOf(moved) = wanted;
    return moved;
  }
  void* moved = allocate(bytes);
  if (moved == nullptr) return nullptr;  // SQLite keeps the old block
  std::memcpy(moved, block, usable < wanted ? usable : wanted);
  release(block);
  return moved;
}

int usableSize(void* block) { return block == nullptr ? 0 : static_cast<int>(sizeOf(block)); }

int roundUp(int bytes) { return static_cast<int>(rounded(static_cast<std::size_t>(bytes < 0 ? 0 : bytes))); }

std::size_t threadCachedBytes() { return cache.alive ? cache.bytes : 0; }

int installAllocator() {
  static const sqlite3_mem_methods methods{xMalloc, xFree, xRealloc, xSize, xRoundup, xInit, xShutdown, nullptr};
  return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}

}  // namespace gateway::storage::sqlite
