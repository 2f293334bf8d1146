#include "storage/wal_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

#include "storage/sqlite_db.h"
#include "storage/store.h"

namespace gateway::storage::sqlite {

struct WalVfs::State {
  sqlite3_vfs vfs{};  // what SQLite calls; pAppData points back to this State
  sqlite3_vfs* real = nullptr;
  std::string name;
  std::atomic<std::int64_t> walWrites{0}, subjournalFiles{0};
};

namespace {

using State = WalVfs::State;

// Frames gathered before they are written anyway; a batch of a thousand webhooks fits.
constexpr std::size_t kMaxPendingBytes = 8u << 20;

// A WAL file as SQLite sees it; the default VFS's file lives right after it in the same
// allocation (SQLite allocates szOsFile bytes and never constructs anything in them).
struct WalFile {
  sqlite3_file base;  // first: SQLite's view of this object
  State* state;
  sqlite3_file* real;
  int fd = -1;  // our own descriptor on the WAL file: the default VFS writes at most 128 KB a call
  std::vector<char> pending;  // bytes not written yet, starting at file offset pendingAt
  sqlite3_int64 pendingAt = 0;
};
constexpr std::size_t kRealOffset = (sizeof(WalFile) + 15) & ~std::size_t{15};

WalFile* walFile(sqlite3_file* file) { return reinterpret_cast<WalFile*>(file); }
State* stateOf(sqlite3_vfs* vfs) { return static_cast<State*>(vfs->pAppData); }

int writeAll(WalFile* f, const char* data, std::size_t size, sqlite3_int64 offset) {
  f->state->walWrites.fetch_add(1);
  while (size > 0) {
    const ssize_t n = ::pwrite(f->fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 && errno != ENOSPC ? SQLITE_IOERR_WRITE : SQLITE_FULL;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return SQLITE_OK;
}

int flush(WalFile* f) {
  if (f->pending.empty()) return SQLITE_OK;
  const int rc = writeAll(f, f->pending.data(), f->pending.size(), f->pendingAt);
  f->pending.clear();  // on failure too: SQLite abandons the transaction after an I/O error
  return rc;
}

int walWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = walFile(file);
  const auto bytes = static_cast<std::size_t>(amount);
  if (!f->pending.empty()) {
    const sqlite3_int64 end = f->pendingAt + static_cast<sqlite3_int64>(f->pending.size());
    if (offset >= f->pendingAt && offset + amount <= end) {  // SQLite rewriting a frame of this commit
      std::memcpy(f->pending.data() + (offset - f->pendingAt), data, bytes);
      return SQLITE_OK;
    }
    if (offset == end && f->pending.size() + bytes <= kMaxPendingBytes) {
      const auto* p = static_cast<const char*>(data);
      f->pending.insert(f->pending.end(), p, p + bytes);
      return SQLITE_OK;
    }
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (bytes > kMaxPendingBytes) return writeAll(f, static_cast<const char*>(data), bytes, offset);
  const auto* p = static_cast<const char*>(data);
  f->pending.assign(p, p + bytes);
  f->pendingAt = offset;
  return SQLITE_OK;
}

int walRead(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = walFile(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, data, amount, offset);
}

int walTruncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = walFile(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

// SQLite calls this before it publishes a commit to readers: the frames must be in the
// file by then (other connections read them through their own descriptors).
int walSync(sqlite3_file* file, int flags) {
  WalFile* f = walFile(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int walFileSize(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = walFile(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int walClose(sqlite3_file* file) {
  WalFile* f = walFile(file);
  const int rc = flush(f);
  if (f->fd >= 0) ::close(f->fd);
  const int closeRc = f->real->pMethods->xClose(f->real);
  f->~WalFile();
  return rc != SQLITE_OK ? rc : closeRc;
}

// The rest passes straight through to the default VFS's file.
int walLock(sqlite3_file* file, int lock) { return walFile(file)->real->pMethods->xLock(walFile(file)->real, lock); }
int walUnlock(sqlite3_file* file, int lock) {
  return walFile(file)->real->pMethods->xUnlock(walFile(file)->real, lock);
}
int walCheckReservedLock(sqlite3_file* file, int* out) {
  return walFile(file)->real->pMethods->xCheckReservedLock(walFile(file)->real, out);
}
int walFileControl(sqlite3_file* file, int op, void* arg) {
  WalFile* f = walFile(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}
int walSectorSize(sqlite3_file* file) { return walFile(file)->real->pMethods->xSectorSize(walFile(file)->real); }
int walDeviceCharacteristics(sqlite3_file* file) {
  return walFile(file)->real->pMethods->xDeviceCharacteristics(walFile(file)->real);
}
int walShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return walFile(file)->real->pMethods->xShmMap(walFile(file)->real, region, size, extend, out);
}
int walShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return walFile(file)->real->pMethods->xShmLock(walFile(file)->real, offset, n, flags);
}
void walShmBarrier(sqlite3_file* file) { walFile(file)->real->pMethods->xShmBarrier(walFile(file)->real); }
int walShmUnmap(sqlite3_file* file, int deleteFlag) {
  return walFile(file)->real->pMethods->xShmUnmap(walFile(file)->real, deleteFlag);
}
int walFetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  WalFile* f = walFile(file);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFetch(f->real, offset, amount, out);
}
int walUnfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  return walFile(file)->real->pMethods->xUnfetch(walFile(file)->real, offset, p);
}

const sqlite3_io_methods kWalMethods = {
    3,          walClose,        walRead,       walWrite,   walTruncate,  walSync,
    walFileSize, walLock,        walUnlock,     walCheckReservedLock, walFileControl, walSectorSize,
    walDeviceCharacteristics, walShmMap, walShmLock, walShmBarrier, walShmUnmap, walFetch,
    walUnfetch};

int vfsOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* outFlags) {
  State* state = stateOf(vfs);
  // Everything but the WAL is the default VFS's file, opened right in SQLite's memory.
  if ((flags & SQLITE_OPEN_WAL) == 0 || name == nullptr) {
    if ((flags & SQLITE_OPEN_SUBJOURNAL) != 0) state->subjournalFiles.fetch_add(1);
    return state->real->xOpen(state->real, name, file, flags, outFlags);
  }
  auto* f = new (file) WalFile{};
  f->state = state;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  int rc = state->real->xOpen(state->real, name, f->real, flags, outFlags);
  if (rc == SQLITE_OK && f->real->pMethods->iVersion < 3) rc = SQLITE_CANTOPEN;  // needs xShm*/xFetch
  if (rc == SQLITE_OK) {
    f->fd = ::open(name, O_RDWR | O_CLOEXEC);
    if (f->fd < 0) rc = SQLITE_CANTOPEN;
  }
  if (rc != SQLITE_OK) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    f->~WalFile();
    file->pMethods = nullptr;  // SQLite then does not call xClose
    return rc;
  }
  f->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

// The VFS-level calls go to the default VFS, with its own sqlite3_vfs (it keeps state there).
int vfsDelete(sqlite3_vfs* v, const char* name, int syncDir) { return stateOf(v)->real->xDelete(stateOf(v)->real, name, syncDir); }
int vfsAccess(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return stateOf(v)->real->xAccess(stateOf(v)->real, name, flags, out);
}
int vfsFullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return stateOf(v)->real->xFullPathname(stateOf(v)->real, name, n, out);
}
void* vfsDlOpen(sqlite3_vfs* v, const char* name) { return stateOf(v)->real->xDlOpen(stateOf(v)->real, name); }
void vfsDlError(sqlite3_vfs* v, int n, char* out) { stateOf(v)->real->xDlError(stateOf(v)->real, n, out); }
void (*vfsDlSym(sqlite3_vfs* v, void* lib, const char* sym))(void) {
  return stateOf(v)->real->xDlSym(stateOf(v)->real, lib, sym);
}
void vfsDlClose(sqlite3_vfs* v, void* lib) { stateOf(v)->real->xDlClose(stateOf(v)->real, lib); }
int vfsRandomness(sqlite3_vfs* v, int n, char* out) { return stateOf(v)->real->xRandomness(stateOf(v)->real, n, out); }
int vfsSleep(sqlite3_vfs* v, int us) { return stateOf(v)->real->xSleep(stateOf(v)->real, us); }
int vfsCurrentTime(sqlite3_vfs* v, double* out) { return stateOf(v)->real->xCurrentTime(stateOf(v)->real, out); }
int vfsGetLastError(sqlite3_vfs* v, int n, char* out) {
  return stateOf(v)->real->xGetLastError(stateOf(v)->real, n, out);
}
int vfsCurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  return stateOf(v)->real->xCurrentTimeInt64(stateOf(v)->real, out);
}

}  // namespace

WalVfs::WalVfs() : state_(std::make_unique<State>()) {
  configureProcess();  // before sqlite3_vfs_find initializes SQLite
  State& s = *state_;
  s.real = sqlite3_vfs_find(nullptr);
  if (s.real == nullptr || s.real->iVersion < 2) throw StoreError("sqlite: no usable default VFS");
  s.name = "gateway-wal-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  sqlite3_vfs& v = s.vfs;
  v.iVersion = 2;  // the system-call overrides of version 3 stay with the default VFS
  v.szOsFile = static_cast<int>(std::max<std::size_t>(static_cast<std::size_t>(s.real->szOsFile),
                                                      kRealOffset + static_cast<std::size_t>(s.real->szOsFile)));
  v.mxPathname = s.real->mxPathname;
  v.zName = s.name.c_str();
  v.pAppData = &s;
  v.xOpen = vfsOpen;
  v.xDelete = vfsDelete;
  v.xAccess = vfsAccess;
  v.xFullPathname = vfsFullPathname;
  v.xDlOpen = vfsDlOpen;
  v.xDlError = vfsDlError;
  v.xDlSym = vfsDlSym;
  v.xDlClose = vfsDlClose;
  v.xRandomness = vfsRandomness;
  v.xSleep = vfsSleep;
  v.xCurrentTime = vfsCurrentTime;
  v.xGetLastError = vfsGetLastError;
  v.xCurrentTimeInt64 = vfsCurrentTimeInt64;
  if (sqlite3_vfs_register(&v, 0) != SQLITE_OK) throw StoreError("sqlite: cannot register VFS " + s.name);
}

WalVfs::~WalVfs() { sqlite3_vfs_unregister(&state_->vfs); }

const char* WalVfs::name() const { return state_->name.c_str(); }

WalVfs::Counters WalVfs::counters() const {
  Counters c;
  c.walWrites = state_->walWrites.load();
  c.subjournalFiles = state_->subjournalFiles.load();
  return c;
}

}  // namespace gateway::storage::sqlite
