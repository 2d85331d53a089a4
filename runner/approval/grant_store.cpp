#include "approval/grant_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "common/rfc3339.h"
#include "policy/json_reader.h"

namespace tierbox::approval {
namespace {

namespace fs = std::filesystem;

void make_dir(const fs::path& dir, mode_t mode) {
  fs::path path;
  for (const auto& part : dir) {
    path /= part;
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw_sys_error("mkdir(" + quote(path.string()) + ")");
  }
  if (::chmod(dir.c_str(), mode) != 0) throw_sys_error("chmod(" + quote(dir.string()) + ")");
}

// Root's, and nobody else can write it: otherwise anyone could have added a key.
void check_owned_by_root(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_sys_error("lstat(" + quote(path.string()) + ")");
  if (st.st_uid != 0 || (st.st_mode & 022) != 0 || S_ISLNK(st.st_mode))
    throw Error(path.string() + ": must be root's and writable by nobody else (it decides which grants are trusted; "
                                "fix: chown root and chmod go-w)",
                exit_code::runner_failed);
}

}  // namespace

nlohmann::json read_json_document(const fs::path& file) { return policy::read_json_file(file.string()); }

TrustStore load_trust_store(const fs::path& governance_dir) {
  const auto file = governance_dir / kTrustStoreFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  check_owned_by_root(governance_dir);
  check_owned_by_root(file);
  return parse_trust_store(read_json_document(file), file.string());
}

void edit_trust_store(const fs::path& governance_dir, const std::function<void(TrustStore&)>& change) {
  make_dir(governance_dir, 0755);
  const auto lock_path = governance_dir / (std::string(kTrustStoreFile) + ".lock");
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) throw_sys_error("open(" + quote(lock_path.string()) + ")");
  if (::flock(lock.get(), LOCK_EX) != 0) throw_sys_error("flock(" + quote(lock_path.string()) + ", LOCK_EX)");
  auto store = load_trust_store(governance_dir);
  change(store);
  write_file_atomically(governance_dir / kTrustStoreFile, to_json(store).dump(2) + "\n", 0644, Durability::fsync);
}

void consume_nonce(const fs::path& governance_dir, const std::string& nonce, const std::string& run_id) {
  const auto dir = governance_dir / "grants-used";
  make_dir(governance_dir, 0755);
  make_dir(dir, 0700);
  const auto file = dir / nonce;
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == EEXIST) {
    std::string first_use = "an earlier run";
    try {
      const auto used = read_json_document(file);
      first_use = "run " + used.value("run_id", "?") + " at " + used.value("used_at", "?");
    } catch (const Error&) {
    }
    throw Refusal("grant: already used (nonce " + nonce + ", by " + first_use +
                  "): a grant runs once (replay refused; fix: ask an approver for a new grant)");
  }
  if (!fd) throw_sys_error("open(" + quote(file.string()) + ", O_WRONLY|O_CREAT|O_EXCL)");
  const nlohmann::json used = {{"run_id", run_id}, {"used_at", rfc3339_utc(std::chrono::system_clock::now())}};
  write_all(fd.get(), used.dump() + "\n", file.string());
  // On disk before the run goes on: after a crash the grant is still used.
  if (::fsync(fd.get()) != 0) throw_sys_error("fsync(" + quote(file.string()) + ")");
  UniqueFd directory(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory || ::fsync(directory.get()) != 0) throw_sys_error("fsync(" + quote(dir.string()) + ")");
}

SigningKey read_signing_key(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw_sys_error("stat(" + quote(file.string()) + ")");
  if ((st.st_mode & 077) != 0)
    throw Error(file.string() + ": a secret key must be readable by its owner only (fix: chmod 600)", exit_code::runner_failed);
  return parse_signing_key(read_json_document(file), file.string());
}

void write_signing_key(const fs::path& file, const SigningKey& key) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_sys_error("open(" + quote(file.string()) + ", O_WRONLY|O_CREAT|O_EXCL, 0600)");
  write_all(fd.get(), to_json(key).dump(2) + "\n", file.string());
  if (::fsync(fd.get()) != 0) throw_sys_error("fsync(" + quote(file.string()) + ")");
}

}  // namespace tierbox::approval
