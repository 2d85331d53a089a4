#include "audit/audit_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "common/errors.h"
#include "common/unique_fd.h"
#include "common/users.h"
#include "launch/run_registry.h"

namespace tierbox::audit {
namespace {

namespace fs = std::filesystem;

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

void make_private_dirs(const fs::path& dir) {
  fs::path path;
  for (const auto& part : dir) {
    path /= part;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      throw SysError(errno, "audit log: mkdir(" + quote(path.string()) + ", 0700)");
  }
}

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
  }
  const auto body_end = !tail.empty() && tail.back() == '\n' ? tail.size() - 1 : tail.size();
  return tail.substr(0, body_end);
}

void write_all(int fd, const std::string& text, const fs::path& file) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SysError(errno, "audit log: write(" + quote(file.string()) + ")");
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

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

nlohmann::json AuditLog::append(nlohmann::json record) const {
  if (sodium_init() < 0) throw Error("audit log: libsodium failed to initialise", exit_code::runner_failed);
  UniqueFd fd(::open(file_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == ENOENT) {
    make_private_dirs(file_.parent_path());
    fd.reset(::open(file_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  }
  if (!fd) throw SysError(errno, "audit log: open(" + quote(file_.string()) + ", O_RDWR|O_APPEND|O_CREAT)");
  // One writer at a time: the tail read and the append are one step.
  if (::flock(fd.get(), LOCK_EX) != 0) throw SysError(errno, "audit log: flock(" + quote(file_.string()) + ", LOCK_EX)");
  std::uint64_t seq = 1;
  std::string prev = kGenesisHash;
  const auto tail = last_line(fd.get(), file_);
  if (!tail.empty()) {
    try {
      const auto last = nlohmann::json::parse(tail);
      seq = last.at("seq").get<std::uint64_t>() + 1;
      prev = last.at("hash").get<std::string>();
    } catch (const std::exception&) {
      throw Error("audit log: the last line of " + file_.string() +
                      " is not a record; run `tierbox audit verify` (nothing is appended to a broken log)",
                  exit_code::runner_failed);
    }
  }
  record["seq"] = seq;
  record["ts"] = launch::rfc3339_utc(std::chrono::system_clock::now());
  record["prev"] = prev;
  record.erase("hash");
  record["hash"] = record_hash(record);
  write_all(fd.get(), record.dump() + "\n", file_);
  // Durable before the caller goes on (a launch starts only after its record
  // is on disk).
  if (::fsync(fd.get()) != 0) throw SysError(errno, "audit log: fsync(" + quote(file_.string()) + ")");
  return record;
}

}  // namespace tierbox::audit
