#include "audit/audit_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "audit/syslog.h"
#include "audit/verify.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json_bytes.h"
#include "common/unique_fd.h"
#include "common/users.h"
#include "common/rfc3339.h"

namespace tierbox::audit {
namespace {

namespace fs = std::filesystem;

// The last complete line of the file (the chain's tail), "" when empty. Read
// from the end, so appending stays cheap however long the log grows.
std::string last_line(int fd, const fs::path& file) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw SysError(errno, "audit log: fstat(" + quote(file.string()) + ")");
  off_t end = st.st_size;
  std::string tail;
  char buffer[8192];
  while (end > 0) {
    const off_t start = end > static_cast<off_t>(sizeof buffer) ? end - static_cast<off_t>(sizeof buffer) : 0;
    const ssize_t n = ::pread(fd, buffer, static_cast<std::size_t>(end - start), start);
    if (n < 0) throw SysError(errno, "audit log: pread(" + quote(file.string()) + ")");
    tail.insert(0, buffer, static_cast<std::size_t>(n));
    end = start;
    // The last line ends with the file's last newline; look for the one before.
    const auto body_end = tail.size() > 0 && tail.back() == '\n' ? tail.size() - 1 : tail.size();
    const auto newline = tail.rfind('\n', body_end == 0 ? 0 : body_end - 1);
    if (newline != std::string::npos && body_end > 0) return tail.substr(newline + 1, body_end - newline - 1);
    // Longer than any record: not one (chain_tail refuses it), and reading on
    // could take the whole file into memory.
    if (tail.size() > kMaxRecordLineBytes) return tail;
  }
  const auto body_end = !tail.empty() && tail.back() == '\n' ? tail.size() - 1 : tail.size();
  return tail.substr(0, body_end);
}

UniqueFd open_log(const fs::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == ENOENT) {
    make_private_dirs(file.parent_path(), "audit log: ");
    fd.reset(::open(file.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  }
  if (!fd) throw SysError(errno, "audit log: open(" + quote(file.string()) + ", O_RDWR|O_APPEND|O_CREAT)");
  // A FIFO, /dev/null or a socket would take records and keep none.
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw SysError(errno, "audit log: fstat(" + quote(file.string()) + ")");
  if (!S_ISREG(status.st_mode))
    throw Error("audit log " + quote(file.string()) + ": is " + file_type_name(status.st_mode) +
                    ", not a regular file; records written there would not be kept (fix: --audit-log FILE)",
                exit_code::runner_failed);
  return fd;
}

// The chain's tail: the next seq and the previous hash.
std::pair<std::uint64_t, std::string> chain_tail(int fd, const fs::path& file) {
  const auto tail = last_line(fd, file);
  if (tail.empty()) return {1, kGenesisHash};
  try {
    const auto last = nlohmann::json::parse(tail);
    return {last.at("seq").get<std::uint64_t>() + 1, last.at("hash").get<std::string>()};
  } catch (const std::exception&) {
    throw Error("audit log: the last line of " + file.string() +
                    " is not a record; run `tierbox audit verify` (nothing is appended to a broken log)",
                exit_code::runner_failed);
  }
}

off_t file_size(int fd, const fs::path& file) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw SysError(errno, "audit log: fstat(" + quote(file.string()) + ")");
  return st.st_size;
}

// Writes text at the end of the file; on failure (a full disk, an I/O error)
// cuts the file back to size, so no partial line is left behind and the
// chain stays verifiable, then throws. Under the log's flock; the fsync
// comes after it (group_commit.h).
void write_or_cut_back(int fd, const std::string& text, off_t size, const fs::path& file) {
  try {
    write_all(fd, text, file.string(), "audit log: ");
  } catch (const Error&) {
    if (::ftruncate(fd, size) == 0) (void)::fsync(fd);
    throw;
  }
}

}  // namespace

PendingAppend::PendingAppend(std::vector<nlohmann::json> records, PendingSync sync, std::string syslog_socket)
    : records_(std::move(records)), sync_(std::move(sync)), syslog_socket_(std::move(syslog_socket)) {}

void PendingAppend::wait() {
  // Durable before the caller goes on (a task starts only after its start
  // record is on disk).
  sync_.wait();
  if (!syslog_socket_.empty())
    for (const auto& record : records_) forward_to_syslog(syslog_socket_, record);
  syslog_socket_.clear();  // forwarded once
}

nlohmann::json to_json(const Identity& identity) {
  return {{"uid", identity.uid}, {"name", identity.name}, {"sudo_user", identity.sudo_user}};
}

Identity current_identity() {
  Identity identity;
  identity.uid = ::getuid();
  identity.name = user_name(identity.uid);
  if (const char* sudo_user = std::getenv("SUDO_USER")) identity.sudo_user = sudo_user;
  return identity;
}

fs::path audit_log_path(const std::string& flag, const std::string& configured) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TIERBOX_AUDIT_LOG"); env && *env) return env;
  if (!configured.empty()) return configured;
  return kDefaultAuditLog;
}

std::string record_hash(const nlohmann::json& record) {
  nlohmann::json body = record;
  body.erase("hash");
  // nlohmann keeps object keys sorted: dump() is canonical.
  return sha256_hex(body.value("prev", std::string()) + body.dump());
}

AuditLog::AuditLog(fs::path file) : file_(std::move(file)) {}

AuditLog::AuditLog(fs::path file, std::string syslog_socket)
    : file_(std::move(file)), syslog_socket_(std::move(syslog_socket)) {}

nlohmann::json AuditLog::append(nlohmann::json record) const {
  std::vector<nlohmann::json> records;
  records.push_back(std::move(record));
  return std::move(append_all(std::move(records)).front());
}

std::vector<nlohmann::json> AuditLog::append_all(std::vector<nlohmann::json> records) const {
  if (records.empty()) return records;
  auto pending = append_all_pending(std::move(records));
  pending.wait();
  return pending.records();
}

PendingAppend AuditLog::append_all_pending(std::vector<nlohmann::json> records) const {
  if (records.empty()) return {};
  return append_locked([&](std::uint64_t, const std::string&) { return std::move(records); });
}

nlohmann::json AuditLog::append_built(const std::function<nlohmann::json(std::uint64_t, const std::string&)>& build) const {
  auto written = append_locked([&](std::uint64_t seq, const std::string& prev) {
    std::vector<nlohmann::json> records;
    records.push_back(build(seq, prev));
    return records;
  });
  written.wait();
  return written.records().front();
}

namespace {

// Under the log's flock: reads the chain's tail, lets build make the records,
// chains them and writes them (cut back on failure). Returns them as written.
std::vector<nlohmann::json> write_chained(
    int fd, const fs::path& file,
    const std::function<std::vector<nlohmann::json>(std::uint64_t, const std::string&)>& build) {
  // One writer at a time: the tail read and the append are one step.
  if (::flock(fd, LOCK_EX) != 0) throw SysError(errno, "audit log: flock(" + quote(file.string()) + ", LOCK_EX)");
  // Unlocked explicitly, not by the close: in the daemon another run's
  // clone3 may copy this fd into its child (which closes it only at its
  // close_fds step), and a flock lasts until every copy is closed; that
  // child's parent would then wait here for the lock forever.
  struct Unlock {
    int fd;
    ~Unlock() { ::flock(fd, LOCK_UN); }
  } unlock{fd};
  auto [seq, prev] = chain_tail(fd, file);
  auto records = build(seq, prev);
  const auto ts = rfc3339_utc(std::chrono::system_clock::now());
  std::string text;
  for (auto& record : records) {
    // A caller's bytes (argv, cwd, paths) need not be UTF-8: recorded as
    // json_bytes() arrays, faithfully, so the line dumps and verifies.
    record = utf8_safe(std::move(record));
    record["seq"] = seq++;
    record["ts"] = ts;
    record["prev"] = prev;
    record.erase("hash");
    record["hash"] = record_hash(record);
    prev = record["hash"].get<std::string>();
    text += record.dump() + "\n";
  }
  write_or_cut_back(fd, text, file_size(fd, file), file);
  return records;
}

}  // namespace

PendingAppend AuditLog::append_locked(
    const std::function<std::vector<nlohmann::json>(std::uint64_t, const std::string&)>& build) const {
  if (sodium_init() < 0) throw Error("audit log: libsodium failed to initialise", exit_code::runner_failed);
  auto fd = open_log(file_);
  auto records = write_chained(fd.get(), file_, build);
  // Unlocked now: the next appender reads this tail from the page cache.
  // The fsync runs outside the lock, shared with whatever else was written
  // meanwhile (group commit); the write went through fd, so a writeback
  // error of it is reported there.
  return PendingAppend(std::move(records), request_sync(std::move(fd), file_.string()), syslog_socket_);
}

void AuditLog::create_if_missing() const { open_log(file_); }

void scan_backwards(const fs::path& file, const std::function<bool(const nlohmann::json&)>& visit) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) throw SysError(errno, "audit log: open(" + quote(file.string()) + ", O_RDONLY)");
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw SysError(errno, "audit log: fstat(" + quote(file.string()) + ")");
  if (!S_ISREG(status.st_mode))
    throw Error("audit log " + quote(file.string()) + ": is " + file_type_name(status.st_mode) + ", not a regular file",
                exit_code::runner_failed);
  off_t end = status.st_size;
  std::string pending;  // a line's tail read so far, before its start is found
  bool drop_next = false;  // the next line found is the start of one too long to be a record
  char buffer[65536];
  while (end > 0) {
    const off_t start = end > static_cast<off_t>(sizeof buffer) ? end - static_cast<off_t>(sizeof buffer) : 0;
    const ssize_t n = ::pread(fd.get(), buffer, static_cast<std::size_t>(end - start), start);
    if (n < 0) throw SysError(errno, "audit log: pread(" + quote(file.string()) + ")");
    pending.insert(0, buffer, static_cast<std::size_t>(n));
    end = start;
    std::size_t newline;
    while ((newline = pending.rfind('\n', pending.empty() ? 0 : pending.size() - 1)) != std::string::npos) {
      const auto line = pending.substr(newline + 1);
      pending.resize(newline);
      if (std::exchange(drop_next, false) || line.empty()) continue;
      auto record = nlohmann::json::parse(line, nullptr, false);
      if (!record.is_discarded() && !visit(record)) return;
    }
    if (pending.size() > kMaxRecordLineBytes) {
      pending.clear();
      drop_next = true;
    }
  }
  if (!pending.empty() && !drop_next) {
    auto record = nlohmann::json::parse(pending, nullptr, false);
    if (!record.is_discarded()) visit(record);
  }
}

}  // namespace tierbox::audit
