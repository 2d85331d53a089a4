// A caller's --bind-rw through the daemon is mounted id-mapped: the caller's
// uid and gid (SO_PEERCRED) are the task's there, so what the task creates
// is the caller's on the host, never the run's slot uid's (a host uid of the
// daemon's pool that a later run of another user may get), and the caller's
// own files are the task's. As with the workspace, the source must be the
// caller's own, of a group the caller is in; another user's file in it
// stays theirs. A read-only --bind is not id-mapped. (docs/daemon.md, "What a caller can hand the task".)
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include "integration/daemon_fixture.h"

using namespace tierbox::testing;

namespace {

struct stat stat_of(const fs::path& path) {
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::lstat(path.c_str(), &st) == 0, "lstat(" << path << "): " << std::strerror(errno));
  return st;
}

std::string content_of(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The slot uid of the daemon's last run, from its -v line.
uid_t slot_uid_of_last_run(Daemon& daemon) {
  const auto line = daemon.wait_for_log("the task is host uid ");
  BOOST_REQUIRE_MESSAGE(!line.empty(), "no daemon -v line naming the task's host uid");
  return static_cast<uid_t>(std::stoul(line.substr(line.rfind(' ') + 1)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_writable_binds)

BOOST_AUTO_TEST_CASE(what_the_task_creates_in_a_writable_bind_is_the_callers_and_the_callers_files_are_the_tasks) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "0", "-v"});
  const uid_t alice = DaemonUsers::uid(users.alice);
  const gid_t users_gid = *tierbox::group_id("users");
  // alice's own directory, 0755 (no bits for others: the slot uid alone
  // could write nothing there), with her 0644 file.
  const auto dir = daemon.dir().path() / "alice-data";
  fs::create_directories(dir);
  std::ofstream(dir / "mine.txt") << "alice's\n";
  // And a directory of hers open to all (0777), where even an unmapped
  // task could create files: they must still be hers, not the slot uid's.
  fs::create_directories(dir / "open");
  must({"/bin/chown", "-R", users.alice + ":users", dir.string()});
  ::chmod(dir.c_str(), 0755);
  ::chmod((dir / "open").c_str(), 0777);
  ::chmod((dir / "mine.txt").c_str(), 0644);
  const auto ran = daemon.tierbox_as(
      users.alice, {"run", "--tier", "dmn-bind", "--bind-rw", dir.string() + ":/data", "--", "/bin/sh", "-c",
                    "echo open > /data/open/g; echo new > /data/new.txt && mkdir /data/sub && echo deep > /data/sub/f && echo task >> /data/mine.txt "
                    "&& stat -c '%u %g' /data/mine.txt && id -u && id -g"});
  BOOST_TEST(ran.status == 0, ran.err);
  const uid_t slot = slot_uid_of_last_run(daemon);
  BOOST_TEST(slot != alice);
  // On the host: alice's, with her group (the one she connected with).
  for (const auto* name : {"open/g", "new.txt", "sub", "sub/f"}) {
    const auto st = stat_of(dir / name);
    BOOST_TEST(st.st_uid == alice, name << " is uid " << st.st_uid << ", not alice's " << alice);
    BOOST_TEST(st.st_gid == users_gid, name << " is gid " << st.st_gid);
    BOOST_TEST(st.st_uid != slot, name << " belongs to the run's slot uid " << slot);
  }
  BOOST_TEST(content_of(dir / "sub/f") == "deep\n");
  // Her 0644 file took the task's write, and is still hers.
  BOOST_TEST(content_of(dir / "mine.txt") == "alice's\ntask\n");
  BOOST_TEST(stat_of(dir / "mine.txt").st_uid == alice);
  // Inside, her file is the task's own: its owner is the task's uid and gid.
  std::istringstream seen(ran.out);
  std::string owner_uid, owner_gid, task_uid, task_gid;
  seen >> owner_uid >> owner_gid >> task_uid >> task_gid;
  BOOST_TEST(owner_uid == task_uid, ran.out);
  BOOST_TEST(owner_gid == task_gid, ran.out);
}

BOOST_AUTO_TEST_CASE(a_writable_bind_must_be_the_callers_own_and_gives_the_task_nothing_of_others) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "0", "-v"});
  const uid_t alice = DaemonUsers::uid(users.alice);
  const uid_t bob = DaemonUsers::uid(users.bob);
  // bob's directory, writable by the group users (alice's): alice may add
  // files there herself, but the task would write as its owner, bob.
  const auto shared = daemon.dir().path() / "shared";
  fs::create_directories(shared);
  must({"/bin/chown", users.bob + ":users", shared.string()});
  ::chmod(shared.c_str(), 0775);
  BOOST_TEST(daemon.as(users.alice, {"/bin/sh", "-c", "echo x > " + (shared / "by-alice.txt").string()}).status == 0);
  const auto not_hers = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-bind", "--bind-rw", shared.string() + ":/data",
                                                        "--", "/bin/sh", "-c", "echo task > /data/task.txt"});
  BOOST_TEST(not_hers.status == 126, not_hers.err);
  BOOST_TEST(not_hers.err.find("--bind-rw " + shared.string() + ":/data: owned by uid " + std::to_string(bob) +
                               ", not by " + users.alice) != std::string::npos, not_hers.err);
  BOOST_TEST(!fs::exists(shared / "task.txt"));
  // Her own directory of a group she is not in (root's): refused too.
  const auto foreign = daemon.dir().path() / "alice-root-group";
  fs::create_directories(foreign);
  must({"/bin/chown", users.alice + ":root", foreign.string()});
  const auto group = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-bind", "--bind-rw", foreign.string() + ":/data",
                                                     "--", "/bin/true"});
  BOOST_TEST(group.status == 126, group.err);
  BOOST_TEST(group.err.find("its group is gid 0, which " + users.alice + " is not in") != std::string::npos, group.err);

  // Control: her own directory is bound. bob's file in it, writable by the
  // group users (so by alice herself on the host), stays bob's: the task
  // writes only what the mapping names (alice's), never more than she may.
  const auto mine = daemon.dir().path() / "alice-dir";
  fs::create_directories(mine);
  std::ofstream(mine / "bobs.txt") << "bob's\n";
  must({"/bin/chown", users.alice + ":users", mine.string()});
  must({"/bin/chown", users.bob + ":users", (mine / "bobs.txt").string()});
  ::chmod((mine / "bobs.txt").c_str(), 0664);
  const auto ran = daemon.tierbox_as(
      users.alice, {"run", "--tier", "dmn-bind", "--bind-rw", mine.string() + ":/data", "--", "/bin/sh", "-c",
                    "echo hers > /data/alices.txt; echo changed >> /data/bobs.txt && echo rewrote-bobs"});
  BOOST_TEST(ran.status != 0, ran.out + ran.err);  // the write to bob's file failed
  BOOST_TEST(ran.out.find("rewrote-bobs") == std::string::npos, ran.out);
  BOOST_TEST(content_of(mine / "bobs.txt") == "bob's\n");
  BOOST_TEST(stat_of(mine / "bobs.txt").st_uid == bob);
  BOOST_TEST(stat_of(mine / "alices.txt").st_uid == alice);
}

BOOST_AUTO_TEST_CASE(a_read_only_bind_is_not_id_mapped) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "0"});
  // Her file, bound read-only: inside, its owner is no id of the task's
  // sandbox (the overflow uid), and the task cannot write there; bound
  // writable, the same file is the task's own.
  const auto dir = daemon.dir().path() / "alice-ro";
  fs::create_directories(dir);
  std::ofstream(dir / "r.txt") << "r\n";
  must({"/bin/chown", "-R", users.alice + ":users", dir.string()});
  const auto ro = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-bind", "--bind", dir.string() + ":/data", "--",
                                                  "/bin/sh", "-c", "stat -c %u /data/r.txt; id -u; echo x > /data/w.txt"});
  BOOST_TEST(ro.status != 0);  // read-only: the write failed
  BOOST_TEST(!fs::exists(dir / "w.txt"));
  std::istringstream ro_seen(ro.out);
  std::string ro_owner, ro_task;
  ro_seen >> ro_owner >> ro_task;
  BOOST_TEST(ro_owner == "65534", ro.out);
  BOOST_TEST(ro_owner != ro_task, ro.out);
  const auto rw = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-bind", "--bind-rw", dir.string() + ":/data", "--",
                                                  "/bin/sh", "-c", "stat -c %u /data/r.txt; id -u"});
  BOOST_TEST(rw.status == 0, rw.err);
  std::istringstream rw_seen(rw.out);
  std::string rw_owner, rw_task;
  rw_seen >> rw_owner >> rw_task;
  BOOST_TEST(rw_owner == rw_task, rw.out);
}

// On a filesystem that cannot be id-mapped (devtmpfs: a directory of the
// test's own in the host's /dev, removed after), the run is refused, naming
// the bind and the fix: never a writable bind owned by the slot uid.
BOOST_AUTO_TEST_CASE(a_writable_bind_on_a_filesystem_that_cannot_be_id_mapped_is_refused) {
  DaemonUsers users;
  Daemon daemon(users.group);
  daemon.start({"--pool-size", "0"});
  const fs::path dir = "/dev/tbx-bind-rw-" + std::to_string(::getpid());
  fs::create_directories(dir);
  struct Remove {
    fs::path path;
    ~Remove() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remove{dir};
  must({"/bin/chown", users.alice + ":users", dir.string()});
  const auto refused = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-bind", "--bind-rw", dir.string() + ":/data",
                                                       "--", "/bin/sh", "-c", "echo x > /data/f"});
  BOOST_TEST(refused.status == 125, refused.err);
  BOOST_TEST(refused.err.find("--bind-rw " + dir.string() + ":/data: its filesystem (tmpfs/devtmpfs) cannot be mounted "
                              "id-mapped") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("(fix: bind a directory on ext4, xfs or btrfs, or use --bind;") != std::string::npos, refused.err);
  BOOST_TEST(line_count(refused.err) == 1, refused.err);
  BOOST_TEST(!fs::exists(dir / "f"));
  BOOST_TEST(last_of(daemon.records(), "start").is_null());
  // Control: read-only, not id-mapped, the same directory is bound.
  const auto ro = daemon.tierbox_as(users.alice, {"run", "--tier", "dmn-bind", "--bind", dir.string() + ":/data", "--", "/bin/ls", "/data"});
  BOOST_TEST(ro.status == 0, ro.err);
}

BOOST_AUTO_TEST_SUITE_END()
