// launch/run_slot: a run slot also holds a host-wide lock on the host id it
// gives its task, so two state_dirs with one host_id_base never hand the
// same host uid to two live runs. Temp directories stand in for
// STATE_DIR/slots and /run/tierbox-ids. Each refusal has its control.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "common/unique_fd.h"
#include "launch/run_slot.h"

using namespace tierbox;
using tierbox::launch::acquire_run_slot;
using tierbox::launch::RunSlot;
using tierbox::launch::SlotSpace;
using tierbox::testing::TempDir;

namespace {

constexpr uid_t kBase = 0x70000000;

struct Host {
  TempDir root{"tierbox-run-slot"};
  std::filesystem::path ids = root.path() / "ids";  // stands in for /run/tierbox-ids
  [[nodiscard]] SlotSpace space(const std::string& state_dir, unsigned max_slots, uid_t base = kBase) const {
    return SlotSpace{root.path() / state_dir / "slots", max_slots, base, ids};
  }
};

// Whether a lock file is free: a new open file of it gets the flock (and
// drops it again at once).
bool is_free(const std::filesystem::path& lock) {
  UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CLOEXEC));
  BOOST_TEST_REQUIRE(fd.get() >= 0, lock);
  return ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
}

// Holds a lock file as a live run of some state_dir would.
UniqueFd hold(const std::filesystem::path& lock) {
  std::filesystem::create_directories(lock.parent_path());
  UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  BOOST_TEST_REQUIRE(fd.get() >= 0, lock);
  BOOST_TEST_REQUIRE(::flock(fd.get(), LOCK_EX | LOCK_NB) == 0, lock);
  return fd;
}

std::filesystem::path id_lock(const Host& host, uid_t id) { return host.ids / (std::to_string(id) + ".lock"); }

// The message of the Error acquisition throws (nullopt: it succeeded).
std::optional<std::string> refusal(const SlotSpace& space) {
  try {
    auto slot = acquire_run_slot(space);
    return std::nullopt;
  } catch (const Error& error) {
    BOOST_TEST(error.exit_status() == exit_code::runner_failed);
    return error.what();
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_slot)

BOOST_AUTO_TEST_CASE(a_slot_holds_its_host_id_host_wide_and_releases_both_together) {
  Host host;
  std::optional<RunSlot> first = acquire_run_slot(host.space("a", 4));
  BOOST_TEST(first->index == 0u);
  BOOST_TEST(first->host_id == kBase + 1);
  BOOST_TEST(first->id_lock_path == id_lock(host, kBase + 1));
  BOOST_TEST(!is_free(first->path));
  BOOST_TEST(!is_free(first->id_lock_path));
  // The directory is made private, the lock file empty.
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(host.ids.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
  BOOST_TEST(std::filesystem::file_size(first->id_lock_path) == 0u);
  // The same state_dir: the next slot, the next id.
  const auto second = acquire_run_slot(host.space("a", 4));
  BOOST_TEST(second.index == 1u);
  BOOST_TEST(second.host_id == kBase + 2);
  // Released together when the slot goes.
  const auto path = first->path;
  const auto id_path = first->id_lock_path;
  first.reset();
  BOOST_TEST(is_free(path));
  BOOST_TEST(is_free(id_path));
}

// Slots are counted per state_dir: the second state_dir's slot 0 is free,
// and before the host-wide lock it was taken, giving host uid base + 1 to a
// second live run. Now that slot is skipped (and left free), and the run
// gets base + 2. Control: a host_id_base of its own gets slot 0.
BOOST_AUTO_TEST_CASE(a_second_state_dir_skips_the_slot_whose_host_id_a_live_run_holds) {
  Host host;
  const auto first = acquire_run_slot(host.space("daemon", 4));
  BOOST_TEST_REQUIRE(first.host_id == kBase + 1);
  const auto second = acquire_run_slot(host.space("cli", 4));
  BOOST_TEST(second.index == 1u);
  BOOST_TEST(second.host_id == kBase + 2);
  BOOST_TEST(second.host_id != first.host_id);
  BOOST_TEST(is_free(host.root.path() / "cli" / "slots" / "0.lock"), "the skipped slot is not kept");
  const auto control = acquire_run_slot(host.space("other-base", 4, kBase + 0x10000));
  BOOST_TEST(control.index == 0u);
  BOOST_TEST(control.host_id == kBase + 0x10001);
}

BOOST_AUTO_TEST_CASE(every_slot_blocked_by_another_state_dir_fails_naming_state_dir_and_max_concurrent_runs) {
  Host host;
  std::vector<UniqueFd> other_runs;
  for (uid_t id = kBase + 1; id <= kBase + 3; ++id) other_runs.push_back(hold(id_lock(host, id)));
  const auto message = refusal(host.space("cli", 3));
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find('\n') == std::string::npos, *message);
  BOOST_TEST(message->find("state_dir \"" + (host.root.path() / "cli").string() + "\"") != std::string::npos, *message);
  BOOST_TEST(message->find("max_concurrent_runs 3") != std::string::npos, *message);
  BOOST_TEST(message->find("0 in use here, the host uids of 3 held by live runs of other state directories") !=
                 std::string::npos,
             *message);
  // None of the state_dir's own slots stays taken.
  for (int index = 0; index < 3; ++index)
    BOOST_TEST(is_free(host.root.path() / "cli" / "slots" / (std::to_string(index) + ".lock")));
  // Control: one id freed, its slot is taken.
  other_runs[1].reset();
  const auto slot = acquire_run_slot(host.space("cli", 3));
  BOOST_TEST(slot.index == 1u);
  BOOST_TEST(slot.host_id == kBase + 2);
}

BOOST_AUTO_TEST_CASE(slots_in_use_here_and_blocked_ids_are_counted_apart) {
  Host host;
  const auto own = acquire_run_slot(host.space("cli", 2));
  const auto other = hold(id_lock(host, kBase + 2));
  const auto message = refusal(host.space("cli", 2));
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("1 in use here, the host uids of 1 held") != std::string::npos, *message);
  // Without blocked ids: the state_dir's own slots are all in use.
  const auto second_own = acquire_run_slot(host.space("solo", 2, kBase + 0x10000));
  const auto third_own = acquire_run_slot(host.space("solo", 2, kBase + 0x10000));
  const auto full = refusal(host.space("solo", 2, kBase + 0x10000));
  BOOST_TEST_REQUIRE(full.has_value());
  BOOST_TEST(full->find("all 2 run slots of state_dir") != std::string::npos, *full);
  BOOST_TEST(full->find("(max_concurrent_runs 2) are in use") != std::string::npos, *full);
}

// What acquisition says when run as nobody (in a forked child).
std::string acquire_as_nobody(const SlotSpace& space) {
  int pipe_fds[2];
  BOOST_TEST_REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    std::string text = "acquired";
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) text = "setresuid failed";
    else if (auto message = refusal(space)) text = *message;
    (void)::write(write_end.get(), text.data(), text.size());
    ::_exit(0);
  }
  write_end.reset();
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  int status = 0;
  ::waitpid(child, &status, 0);
  return text;
}

// Launching needs root (`tierbox run` by another user goes through the
// daemon); a runner that is not root (`tierbox oci create` by another user,
// which has no such check) fails closed at the id lock, root's directory,
// whether it must make the directory or the file, and says why. Control:
// root in the same directories gets the slot.
BOOST_AUTO_TEST_CASE(a_runner_that_is_not_root_fails_at_the_id_lock_naming_it) {
  Host host;
  ::chmod(host.root.path().c_str(), 0755);
  std::filesystem::create_directories(host.root.path() / "shared" / "slots");
  ::chmod((host.root.path() / "shared").c_str(), 0777);
  ::chmod((host.root.path() / "shared" / "slots").c_str(), 0777);
  auto text = acquire_as_nobody(host.space("shared", 2));
  BOOST_TEST(text.find("mkdir(\"" + host.ids.string() + "\", 0700): EACCES") != std::string::npos, text);
  BOOST_TEST(text.find("launch as root") != std::string::npos, text);
  std::filesystem::create_directory(host.ids);
  ::chmod(host.ids.c_str(), 0700);
  text = acquire_as_nobody(host.space("shared", 2));
  BOOST_TEST(text.find("open(\"" + id_lock(host, kBase + 1).string() + "\", O_RDWR|O_CREAT): EACCES") != std::string::npos,
             text);
  BOOST_TEST(text.find("launch as root") != std::string::npos, text);
  BOOST_TEST(is_free(host.root.path() / "shared" / "slots" / "0.lock"));
  const auto control = acquire_run_slot(host.space("shared", 2));
  BOOST_TEST(control.index == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
