#include "launch/run_registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <utility>

#include "common/errors.h"
#include "common/files.h"
#include "common/json_bytes.h"
#include "common/logging.h"
#include "policy/json_reader.h"

namespace tierbox::launch {
namespace {

namespace fs = std::filesystem;

bool lock_is_held(const fs::path& lock_file) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;  // no lock file: nobody holds it
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return false;
  return errno == EWOULDBLOCK;
}

bool is_valid_run_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string cgroup_owner_id(const RunRecord& record) {
  const auto cgroup = record.resources.find("cgroup");
  if (cgroup == record.resources.end() || !cgroup->is_object()) return record.run_id;
  const auto id = cgroup->find("id");
  return id != cgroup->end() && id->is_string() ? id->get<std::string>() : record.run_id;
}

nlohmann::json to_json(const RunRecord& record) {
  return {{"run_id", record.run_id},         {"tier", record.tier},
          {"argv", record.argv},             {"requester_uid", record.requester_uid},
          {"requester", record.requester},   {"runner_pid", record.runner_pid},
          {"sudo_uid", record.sudo_uid ? nlohmann::json(*record.sudo_uid) : nlohmann::json()},
          {"sudo_user", record.sudo_user},
          {"sandbox_pid", record.sandbox_pid}, {"sandbox_start_time", record.sandbox_start_time},
          {"started_at", record.started_at},
          {"network_mode", record.network_mode}, {"state", record.state},
          {"overrides", record.overrides}, {"resources", record.resources}};
}

RunRecord record_from_json(const nlohmann::json& json) {
  RunRecord record;
  record.run_id = json.value("run_id", "");
  record.tier = json.value("tier", "");
  if (const auto argv = json.find("argv"); argv != json.end() && argv->is_array())
    for (const auto& word : *argv) record.argv.push_back(bytes_from_json(word).value_or(""));
  record.requester_uid = json.value("requester_uid", 0u);
  record.requester = json.value("requester", "");
  record.runner_pid = json.value("runner_pid", 0);
  if (const auto sudo_uid = json.find("sudo_uid"); sudo_uid != json.end() && sudo_uid->is_number_unsigned())
    record.sudo_uid = sudo_uid->get<uid_t>();
  record.sudo_user = json.value("sudo_user", "");
  record.sandbox_pid = json.value("sandbox_pid", 0);
  record.sandbox_start_time = json.value("sandbox_start_time", std::uint64_t{0});
  record.started_at = json.value("started_at", "");
  record.network_mode = json.value("network_mode", "");
  record.state = json.value("state", "");
  record.overrides = json.value("overrides", std::vector<std::string>{});
  record.resources = json.value("resources", nlohmann::json::object());
  return record;
}

RunRegistry::RunRegistry(fs::path state_dir) : dir_(std::move(state_dir) / "runs") {}

RunRegistry::Entry::Entry(fs::path dir, RunRecord record, UniqueFd lock)
    : dir_(std::move(dir)), record_(std::move(record)), lock_(std::move(lock)) {}

RunRegistry::Entry::~Entry() {
  if (!lock_ || keep_) return;  // moved from, or left for gc
  ::unlink((dir_ / (record_.run_id + ".control.json")).c_str());
  ::unlink((dir_ / (record_.run_id + ".json")).c_str());
  ::unlink((dir_ / (record_.run_id + ".lock")).c_str());
}

void RunRegistry::Entry::update() {
  // /run is tmpfs: nothing to fsync.
  write_file_atomically(dir_ / (record_.run_id + ".json"), utf8_safe(to_json(record_)).dump() + "\n", 0600, Durability::none);
}

RunRegistry::Entry RunRegistry::register_run(RunRecord record) {
  if (!is_valid_run_id(record.run_id)) throw Error("invalid run id " + quote(record.run_id), exit_code::runner_failed);
  const auto lock_file = dir_ / (record.run_id + ".lock");
  UniqueFd lock(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock && errno == ENOENT) {  // first run on this host
    make_private_dirs(dir_);
    lock.reset(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  }
  if (!lock) throw_sys_error("open(" + quote(lock_file.string()) + ", O_CREAT|O_EXCL)");
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) throw_sys_error("flock(" + quote(lock_file.string()) + ", LOCK_EX)");
  return Entry(dir_, std::move(record), std::move(lock));
}

std::vector<RunRegistry::Listed> RunRegistry::list() const {
  std::vector<Listed> runs;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir_, ec)) {
    if (item.path().extension() != ".lock") continue;
    const auto id = item.path().stem().string();
    if (!is_valid_run_id(id)) continue;
    if (auto listed = find(id)) runs.push_back(std::move(*listed));
  }
  return runs;
}

std::optional<RunRegistry::Listed> RunRegistry::find(const std::string& run_id) const {
  if (!is_valid_run_id(run_id)) return std::nullopt;
  const auto lock_file = dir_ / (run_id + ".lock");
  const auto record_file = dir_ / (run_id + ".json");
  std::error_code ec;
  const bool has_lock = fs::exists(lock_file, ec);
  const bool has_record = fs::exists(record_file, ec);
  if (!has_lock && !has_record) return std::nullopt;
  Listed listed;
  listed.record.run_id = run_id;
  listed.record.state = "starting";
  listed.has_record = has_record;
  if (has_record) {
    try {
      listed.record = record_from_json(policy::read_json_file(record_file.string()));
    } catch (const std::exception&) {
      listed.record.state = "unreadable";  // still listed, so gc can remove it
    }
    listed.record.run_id = run_id;
  }
  listed.runner_alive = lock_is_held(lock_file);
  if (!listed.runner_alive && !has_record && has_lock) {
    // No record yet: a runner between creating its lock and locking it, or
    // one that died before writing its record. Only age tells them apart.
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(lock_file, ec);
    listed.runner_alive = !ec && age < kLockGrace;
  }
  return listed;
}

void RunRegistry::forget(const std::string& run_id) const {
  auto listed = find(run_id);
  if (!listed || listed->runner_alive) return;
  ::unlink(control_socket(run_id).c_str());
  ::unlink(control_state_file(run_id).c_str());
  ::unlink((dir_ / (run_id + ".json")).c_str());
  ::unlink((dir_ / (run_id + ".lock")).c_str());
}

UniqueFd RunRegistry::lock_for_gc(std::chrono::milliseconds wait) const {
  make_private_dirs(dir_);
  // "gc" is not a run id: list() and forget_strays() never take it for a run.
  const auto path = dir_ / "gc.lock";
  UniqueFd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) throw_sys_error("open(" + quote(path.string()) + ", O_CREAT)");
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool told = false;
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) throw_sys_error("flock(" + quote(path.string()) + ", LOCK_EX)");
    if (!std::exchange(told, true)) logging::step("waiting for another gc ({} is held)", path.string());
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error("another tierbox gc still holds " + quote(path.string()) + " after " +
                      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(wait).count()) +
                      " s; let it finish (fuser " + path.string() + " names it), then run gc again",
                  exit_code::runner_failed);
    const timespec pause{0, 20'000'000};
    ::nanosleep(&pause, nullptr);
  }
  return lock;
}

std::vector<std::string> RunRegistry::forget_strays() const {
  std::vector<std::string> removed;
  const auto has_entry = [&](const std::string& id) {
    std::error_code ec;
    return fs::exists(dir_ / (id + ".lock"), ec) || fs::exists(dir_ / (id + ".json"), ec);
  };
  const auto remove_if_stray = [&](const fs::path& file, const std::string& id) {
    // Younger than the lock grace: maybe a runner that is just starting.
    std::error_code ec;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(file, ec);
    if (ec || !is_valid_run_id(id) || has_entry(id) || age < kLockGrace) return;
    if (::unlink(file.c_str()) == 0) removed.push_back(file.string());
  };
  // A record's or control state's temporary (write_file_atomically: NAME.tmp.HEX)
  // that a runner killed between its write and its rename left: it lives
  // for microseconds, so one older than the grace is abandoned, whether or
  // not its run still has an entry.
  const auto remove_if_abandoned_temporary = [&](const fs::path& file, const std::string& name) {
    const auto marker = name.find(".json.tmp.");
    if (marker == std::string::npos) return;
    auto id = name.substr(0, marker);
    constexpr std::string_view control = ".control";
    if (id.ends_with(control)) id.resize(id.size() - control.size());
    std::error_code age_ec;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(file, age_ec);
    if (age_ec || !is_valid_run_id(id) || age < kLockGrace) return;
    if (::unlink(file.c_str()) == 0) removed.push_back(file.string());
  };
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir_, ec)) {
    const auto name = item.path().filename().string();
    constexpr std::string_view suffix = ".control.json";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      remove_if_stray(item.path(), name.substr(0, name.size() - suffix.size()));
    else
      remove_if_abandoned_temporary(item.path(), name);
  }
  for (const auto& item : fs::directory_iterator(control_dir(), ec)) {
    if (item.path().extension() == ".sock") remove_if_stray(item.path(), item.path().stem().string());
  }
  return removed;
}

}  // namespace tierbox::launch
