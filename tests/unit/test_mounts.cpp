// The child's mount stage, against a recording fake: the exact syscalls, in
// order, for each kind of MountOp, the fallback without mount_setattr, and
// failure reporting.
#include <sys/mount.h>

#include <boost/test/unit_test.hpp>

#include "fake_mount_syscalls.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "stages/mounts.h"
#include "stages/prepared_mounts.h"

#include <sys/stat.h>

#include "common/errors.h"
#include "common/temp_dir.h"

using namespace tierbox;
using namespace tierbox::policy;
using tierbox::testing::FakeMountSyscalls;
using Kind = MountOp::Kind;
using Calls = std::vector<std::string>;

namespace {

struct Fixture {
  LaunchPlan plan;
  std::vector<int> fds;
  FakeMountSyscalls sys;
  stages::ChildFailure failure;

  int prepare(PreparedMount mount, int fd) {
    plan.prepared_mounts.push_back(std::move(mount));
    fds.push_back(fd);
    return static_cast<int>(fds.size() - 1);
  }
  bool build(bool have_mount_setattr = true) {
    stages::BuildRootInput input{&plan, fds.data(), have_mount_setattr};
    return stages::build_root(input, sys, failure);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(mount_stage)

BOOST_AUTO_TEST_CASE(prepared_directory_gets_a_directory_mount_point_then_is_attached) {
  Fixture f;
  int usr = f.prepare({PreparedMount::Kind::host_path, "/usr", true}, 7);
  f.plan.mount_ops.push_back({Kind::attach_prepared, "usr", "", 0, 0, usr});
  BOOST_TEST(f.build());
  Calls expected = {"mkdir usr", "move_mount fd7 -> usr"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(prepared_file_gets_a_file_mount_point) {
  Fixture f;
  int cache = f.prepare({PreparedMount::Kind::host_path, "/etc/ld.so.cache", true}, 8);
  f.sys.files = {"fd8"};
  f.plan.mount_ops.push_back({Kind::attach_prepared, "etc/ld.so.cache", "", 0, 0, cache});
  BOOST_TEST(f.build());
  Calls expected = {"mkfile etc/ld.so.cache", "move_mount fd8 -> etc/ld.so.cache"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(optional_source_missing_on_the_host_is_skipped) {
  Fixture f;
  PreparedMount optional{PreparedMount::Kind::host_path, "/etc/missing", true};
  optional.optional = true;
  int index = f.prepare(optional, -1);
  f.plan.mount_ops.push_back({Kind::attach_prepared, "etc/missing", "", 0, 0, index});
  BOOST_TEST(f.build());
  BOOST_TEST(f.sys.calls.empty());
}

BOOST_AUTO_TEST_CASE(read_only_rebind_seals_the_detached_copy_before_attaching_it) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::read_only_rebind, "proc/sys"});
  BOOST_TEST(f.build());
  Calls expected = {"open_tree proc/sys RECURSIVE", "mount_setattr proc/sys RDONLY|NOSUID|NODEV RECURSIVE PRIVATE",
                    "move_mount proc/sys -> proc/sys"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(entries_missing_on_this_kernel_are_skipped_without_a_mount) {
  Fixture f;
  f.sys.missing = {"proc/sysrq-trigger", "proc/kcore", "proc/acpi"};
  f.plan.mount_ops.push_back({Kind::read_only_rebind, "proc/sysrq-trigger"});
  f.plan.mount_ops.push_back({Kind::mask_with_null, "proc/kcore"});
  f.plan.mount_ops.push_back({Kind::mask_with_empty_dir, "proc/acpi"});
  BOOST_TEST(f.build());
  BOOST_TEST(f.sys.calls.empty());
}

BOOST_AUTO_TEST_CASE(masks_use_a_read_only_copy_of_the_sandbox_dev_null) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::mask_with_null, "proc/kcore"});
  f.plan.mount_ops.push_back({Kind::mask_with_empty_dir, "proc/acpi"});
  BOOST_TEST(f.build());
  Calls expected = {"open_tree dev/null", "mount_setattr dev/null RDONLY|NOSUID|NOEXEC PRIVATE",
                    "move_mount dev/null -> proc/kcore",
                    "mount tmpfs proc/acpi tmpfs RDONLY|NOSUID|NODEV|NOEXEC size=4k,nr_inodes=1,mode=0555"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(filesystems_symlinks_and_files) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::tmpfs, "tmp", "size=1024,mode=1777", 0, MS_NOSUID | MS_NODEV});
  f.plan.mount_ops.push_back({Kind::proc, "proc", "", 0, MS_NOSUID | MS_NODEV | MS_NOEXEC});
  f.plan.mount_ops.push_back({Kind::devpts, "dev/pts", "newinstance", 0, MS_NOSUID | MS_NOEXEC});
  f.plan.mount_ops.push_back({Kind::symlink, "bin", "usr/bin"});
  f.plan.mount_ops.push_back({Kind::file, "etc/hostname", "box\n", 0644});
  f.plan.mount_ops.push_back({Kind::read_only_remount, "dev/x", "", 0, MS_NOSUID | MS_NODEV | MS_NOEXEC});
  BOOST_TEST(f.build());
  Calls expected = {"mkdir tmp",
                    "mount tmpfs tmp tmpfs NOSUID|NODEV size=1024,mode=1777",
                    "mount proc proc proc NOSUID|NODEV|NOEXEC",
                    "mount devpts dev/pts devpts NOSUID|NOEXEC newinstance",
                    "symlink bin -> usr/bin",
                    "write etc/hostname 644 box\n",
                    "mount - dev/x - RDONLY|NOSUID|NODEV|NOEXEC|REMOUNT|BIND"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(without_mount_setattr_trees_are_remounted_read_only_after_attaching) {
  Fixture f;
  int usr = f.prepare({PreparedMount::Kind::host_path, "/usr", true}, 7);
  f.plan.mount_ops.push_back({Kind::attach_prepared, "usr", "", 0, 0, usr});
  f.plan.mount_ops.push_back({Kind::read_only_rebind, "proc/sys"});
  BOOST_TEST(f.build(false));
  Calls expected = {"mkdir usr", "move_mount fd7 -> usr", "mount - usr - RDONLY|NOSUID|NODEV|REMOUNT|BIND",
                    "open_tree proc/sys", "move_mount proc/sys -> proc/sys",
                    "mount - proc/sys - RDONLY|NOSUID|NODEV|REMOUNT|BIND"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failure_stops_the_build_and_names_the_call_and_target) {
  Fixture f;
  int usr = f.prepare({PreparedMount::Kind::host_path, "/usr", true}, 7);
  f.plan.mount_ops.push_back({Kind::attach_prepared, "usr", "", 0, 0, usr});
  f.plan.mount_ops.push_back({Kind::tmpfs, "tmp", "size=1", 0, 0});
  f.sys.failures = {{"move_mount usr", -EPERM}};
  BOOST_TEST(!f.build());
  BOOST_TEST(f.failure.err == EPERM);
  BOOST_TEST(std::string(f.failure.detail) == "move_mount(\"usr\", MOVE_MOUNT_F_EMPTY_PATH)");
  BOOST_TEST(f.sys.calls.back() == "move_mount fd7 -> usr");  // tmp never attempted
}

BOOST_AUTO_TEST_CASE(a_whole_planned_root_builds_against_the_fake) {
  const auto shipped = std::filesystem::path(TIERBOX_SOURCE_DIR) / "profiles";
  TaskRequest request;
  request.argv = {"/bin/true"};
  HostFacts facts;
  facts.workspace = WorkspaceFacts{"/srv/repo", true, 1000, 1000};
  Fixture f;
  f.plan = make_plan(load_tier("workspace-write", {shipped}), request, facts, "r");
  for (std::size_t i = 0; i < f.plan.prepared_mounts.size(); ++i) f.fds.push_back(static_cast<int>(10 + i));
  BOOST_TEST(f.build());
  // Every prepared tree was attached exactly once.
  int attached = 0;
  for (const auto& call : f.sys.calls) attached += call.rfind("move_mount fd", 0) == 0;
  BOOST_TEST(attached == static_cast<int>(f.plan.prepared_mounts.size()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tree_stand_ins)

// Masks and protected paths inside a tree are looked up beneath the tree's
// root without symlinks, and the stand-in is attached onto that fd.
BOOST_AUTO_TEST_CASE(a_secret_file_is_hidden_by_a_read_only_clone_of_dev_null) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::hide_file_beneath, "workspace", "app/.env"});
  BOOST_TEST(f.build());
  Calls expected = {"openat2 workspace NO_SYMLINKS", "openat2 workspace/app/.env BENEATH NO_SYMLINKS",
                    "open_tree dev/null", "mount_setattr dev/null RDONLY|NOSUID|NOEXEC PRIVATE",
                    "move_mount dev/null onto workspace/app/.env"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_secret_directory_is_hidden_by_an_empty_read_only_tmpfs) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::hide_dir_beneath, "workspace", ".aws"});
  BOOST_TEST(f.build());
  Calls expected = {"openat2 workspace NO_SYMLINKS", "openat2 workspace/.aws BENEATH NO_SYMLINKS",
                    "fsmount tmpfs RDONLY", "move_mount empty tmpfs onto workspace/.aws"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_protected_path_is_bound_onto_itself_recursively_read_only) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::read_only_beneath, "workspace", ".git/hooks"});
  BOOST_TEST(f.build());
  Calls expected = {"openat2 workspace NO_SYMLINKS", "openat2 workspace/.git/hooks BENEATH NO_SYMLINKS",
                    "open_tree_of workspace/.git/hooks RECURSIVE",
                    "mount_setattr clone of workspace/.git/hooks RDONLY|NOSUID|NODEV RECURSIVE PRIVATE",
                    "move_mount clone of workspace/.git/hooks onto workspace/.git/hooks"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_protected_paths_parent_is_pinned_by_a_plain_recursive_clone_of_itself) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::pin_beneath, "workspace", ".git"});
  BOOST_TEST(f.build());
  // No attribute change (0): the clone stays writable where the workspace
  // is; only its propagation is made private.
  Calls expected = {"openat2 workspace NO_SYMLINKS", "openat2 workspace/.git BENEATH NO_SYMLINKS",
                    "open_tree_of workspace/.git RECURSIVE",
                    "mount_setattr clone of workspace/.git 0 RECURSIVE PRIVATE",
                    "move_mount clone of workspace/.git onto workspace/.git"};
  BOOST_TEST(f.sys.calls == expected, boost::test_tools::per_element());
  Fixture vanished;
  vanished.sys.failures["openat2 workspace/.git"] = -ENOENT;
  vanished.plan.mount_ops.push_back({Kind::pin_beneath, "workspace", ".git"});
  BOOST_TEST(!vanished.build());  // what it pins must be there, or the path below it is not protected
  BOOST_TEST(vanished.failure.err == ENOENT);
}

BOOST_AUTO_TEST_CASE(a_vanished_secret_is_fine_but_a_vanished_protected_path_fails_closed) {
  Fixture hidden;
  hidden.sys.failures["openat2 workspace/.env"] = -ENOENT;
  hidden.plan.mount_ops.push_back({Kind::hide_file_beneath, "workspace", ".env"});
  BOOST_TEST(hidden.build());
  Fixture protected_path;
  protected_path.sys.failures["openat2 workspace/.git/hooks"] = -ENOENT;
  protected_path.plan.mount_ops.push_back({Kind::read_only_beneath, "workspace", ".git/hooks"});
  BOOST_TEST(!protected_path.build());
  BOOST_TEST(protected_path.failure.err == ENOENT);
  // A symlink planted on the path: openat2 refuses with ELOOP, and so does the launch.
  Fixture planted;
  planted.sys.failures["openat2 workspace/.git/hooks"] = -ELOOP;
  planted.plan.mount_ops.push_back({Kind::hide_file_beneath, "workspace", ".git/hooks"});
  BOOST_TEST(!planted.build());
  BOOST_TEST(planted.failure.err == ELOOP);
  BOOST_TEST(std::string(planted.failure.detail).find("RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS") != std::string::npos,
             planted.failure.detail);
}

BOOST_AUTO_TEST_CASE(without_mount_setattr_protected_paths_fail_closed) {
  Fixture f;
  f.plan.mount_ops.push_back({Kind::read_only_beneath, "workspace", ".git/hooks"});
  BOOST_TEST(!f.build(false));
  BOOST_TEST(f.failure.err == ENOSYS);
  BOOST_TEST(f.sys.calls.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(workspace_identity)

// The parent opens the workspace by path after the policy checked it; if the
// path now leads to another directory (a symlink swapped in), it refuses.
// open_tree(OPEN_TREE_CLONE) makes a detached copy only: nothing is mounted.
BOOST_AUTO_TEST_CASE(a_workspace_swapped_after_the_check_is_refused) {
  tierbox::testing::TempDir checked, other;
  struct stat st {};
  BOOST_REQUIRE(::stat(checked.path().c_str(), &st) == 0);
  LaunchPlan plan;
  plan.workspace = WorkspacePlan{checked.str(), "/workspace", false, 0, 0, st.st_dev, st.st_ino};
  plan.prepared_mounts.push_back({PreparedMount::Kind::workspace, checked.str(), true});
  // Same path, same directory: fine (without the idmapping step).
  BOOST_CHECK_NO_THROW(stages::prepare_mounts(plan, 0x70000001, 0x70000001, false));
  // The path now names another directory.
  plan.prepared_mounts[0].source = other.str();
  try {
    stages::prepare_mounts(plan, 0x70000001, 0x70000001, false);
    BOOST_ERROR("a different workspace was opened");
  } catch (const Error& error) {
    BOOST_TEST(std::string(error.what()).find("changed while the launch was being prepared") != std::string::npos, error.what());
    BOOST_TEST(error.exit_status() == 126);
  }
}

// The same for a caller's --bind through the daemon: the source its client
// opened (device and inode) is the one mounted, or nothing is.
BOOST_AUTO_TEST_CASE(a_bind_source_swapped_after_the_client_opened_it_is_refused) {
  tierbox::testing::TempDir opened, other;
  struct stat st {};
  BOOST_REQUIRE(::stat(opened.path().c_str(), &st) == 0);
  LaunchPlan plan;
  PreparedMount bind{PreparedMount::Kind::host_path, opened.str(), true};
  bind.device = st.st_dev;
  bind.inode = st.st_ino;
  plan.prepared_mounts.push_back(bind);
  BOOST_CHECK_NO_THROW(stages::prepare_mounts(plan, 0x70000001, 0x70000001, false));
  plan.prepared_mounts[0].source = other.str();
  try {
    stages::prepare_mounts(plan, 0x70000001, 0x70000001, false);
    BOOST_ERROR("a different bind source was opened");
  } catch (const Error& error) {
    BOOST_TEST(std::string(error.what()).find("--bind " + tierbox::quote(other.str()) + " changed") != std::string::npos,
               error.what());
    BOOST_TEST(error.exit_status() == 126);
  }
  // A tier's own bind (no identity) is not checked.
  plan.prepared_mounts[0].inode = 0;
  BOOST_CHECK_NO_THROW(stages::prepare_mounts(plan, 0x70000001, 0x70000001, false));
}

BOOST_AUTO_TEST_SUITE_END()
