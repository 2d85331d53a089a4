// Hostile bundles and command lines against the OCI runtime mode: the engine
// is trusted, but config.json and the root tree come from an image and a
// pod spec, which the tier constrains. Each case is an attempt that must be
// refused or contained, the proof that it was, and a control that runs.
// (What test_oci.cpp and test_oci_pods.cpp already cover is not repeated:
// privileged bundles, host namespaces and namespace paths, the host's root
// as root.path, devices, hooks, exec asking for capabilities or a user.)
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "harness.h"
#include "oci_fixture.h"
#include "oci_pod_fixture.h"

using namespace tierbox;
using namespace tierbox::testing;
using namespace tierbox::testing::oci_fixture;
using namespace tierbox::testing::oci_pod_fixture;

namespace {

// A tier of the bundle's configuration that lets a caller (here: the
// bundle's mounts) add read-only binds, the widest a shipped tier allows.
void write_bindable_tier(const Bundle& b) {
  fs::create_directories(b.config / "tiers");
  std::ofstream(b.config / "tiers" / "bindable.json")
      << json{{"extends", "untrusted"}, {"widening", {{"binds", "read-only"}}}}.dump();
  // The shipped matrix names only the shipped tiers, and asks a person to
  // confirm extra binds: this one lets both run unasked.
  std::ofstream(b.config / "approvals.json")
      << json{{"tiers", {"bindable", "untrusted"}}, {"rules", {{{"id", "open"}, {"require", "none"}}}}}.dump();
}

json bindable_config(const std::vector<std::string>& args) {
  auto config = bundle_config(args);
  config["annotations"]["io.tierbox.tier"] = "bindable";
  return config;
}

json bind_mount(const std::string& source, const std::string& destination, json options = {"rbind", "ro"}) {
  return {{"destination", destination}, {"type", "bind"}, {"source", source}, {"options", options}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_adversarial)

// A rootfs symlink used as a mount destination (`/etc -> /host-etc` style,
// here `escape -> HOST DIR` at the top and `opt/deep -> HOST DIR` below):
// the mount points are made relative to the new root before pivot_root, so
// a link followed there would resolve against the host's root. It is not
// followed: the image's entry holding a bind's destination (escape at the
// top; opt/deep below opt, whose other entries are placed one by one) is left
// out (policy/root_mounts.cpp, "taken") and made a directory on the root's
// tmpfs, so the mount lands on that directory. Proof: the bind is
// where the bundle asked, the host directory the links name stays empty,
// and the destination's parents are directories, not the links.
BOOST_AUTO_TEST_CASE(a_mount_destination_through_a_symlink_of_the_root_stays_inside) {
  REQUIRE_BUSYBOX();
  Bundle b(bindable_config({"true"}));
  write_bindable_tier(b);
  const auto data = b.dir.path() / "data";
  fs::create_directories(data);
  std::ofstream(data / "marker") << "bound\n";
  ::chmod(data.c_str(), 0755);
  ::chmod((data / "marker").c_str(), 0644);
  // Writable by the sandbox's host uid, so that a mkdir through a link would show.
  const auto outside = b.dir.path() / "outside";
  fs::create_directories(outside);
  ::chmod(outside.c_str(), 01777);
  fs::create_symlink(outside, b.bundle / "rootfs" / "escape");
  fs::create_directories(b.bundle / "rootfs" / "opt");
  fs::create_symlink(outside, b.bundle / "rootfs" / "opt" / "deep");
  fs::create_symlink("/tmp", b.bundle / "rootfs" / "opt" / "tmp");
  auto config = bindable_config({"sh", "-c",
                                 "echo top=$(cat /escape/planted/marker); echo deep=$(cat /opt/deep/planted/marker); "
                                 "echo tmp=$(cat /opt/tmp/planted/marker); "
                                 "echo links=$(test -L /escape || test -L /opt/deep || test -L /opt/tmp && echo some || echo none); "
                                 "echo in_tmp=$(ls /tmp | wc -l)"});
  for (const char* destination : {"/escape/planted", "/opt/deep/planted", "/opt/tmp/planted"})
    config["mounts"].push_back(bind_mount(data.string(), destination));
  b.write_config(config);
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "s1"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(value_of(result.out, "top") == "bound", result.out);
  BOOST_TEST(value_of(result.out, "deep") == "bound", result.out);
  BOOST_TEST(value_of(result.out, "tmp") == "bound", result.out);
  BOOST_TEST(value_of(result.out, "links") == "none", result.out);
  BOOST_TEST(value_of(result.out, "in_tmp") == "0", result.out);  // not through the link into the tier's /tmp
  BOOST_TEST(fs::is_empty(outside), "the host directory the links name was written to");
  BOOST_TEST(fs::is_symlink(b.bundle / "rootfs" / "escape"));  // the bundle itself is untouched

  // A bind over the link itself, or into the tier's own mounts and what
  // tierbox builds (/etc, /proc, /dev, /tmp): refused like --bind.
  for (const char* destination : {"/etc/passwd", "/proc/sys", "/dev/x", "/tmp/x"}) {
    auto refused = bindable_config({"true"});
    refused["mounts"].push_back(bind_mount(data.string(), destination));
    b.write_config(refused);
    const auto attempt = b.oci({"run", "--bundle", b.bundle.string(), "s2"});
    BOOST_TEST(attempt.status != 0, destination);
    BOOST_TEST(!fs::exists(b.root / "s2"));
  }
}

// Host paths outside the bundle as bind sources, under a tier that allows
// read-only binds: the host's root (directly, or through /proc/1/root) and
// kernel filesystems, at the source or mounted below it, are refused by the
// planner like `--bind` (never-visible paths, kernel filesystems).
BOOST_AUTO_TEST_CASE(host_paths_as_mount_sources_are_refused) {
  REQUIRE_BUSYBOX();
  Bundle b(bindable_config({"true"}));
  write_bindable_tier(b);
  // line_parts: the refusal names one of them.
  const auto refused = [&](const std::string& source, const std::string& id, const std::vector<std::string>& line_parts) {
    auto config = bindable_config({"true"});
    config["mounts"].push_back(bind_mount(source, "/data"));
    b.write_config(config);
    const auto result = b.oci({"run", "--bundle", b.bundle.string(), id});
    BOOST_TEST(result.status != 0, source + ": ran");
    BOOST_TEST(std::any_of(line_parts.begin(), line_parts.end(), [&](const auto& part) { return contains(result.err, part); }),
               source + ": " + result.err);
    BOOST_TEST(!fs::exists(b.root / id), source + ": state left behind");
  };
  refused("/", "h1", {"/"});
  // Where the test shares pid 1's root (a VM guest), the path resolves to
  // the host's root and is refused as that.
  refused("/proc/1/root", "h2", {"/proc/1/root", "--bind /:/data"});
  refused("/sys", "h3", {"/sys"});
  refused("/proc/self/root/sys", "h4", {"/sys"});
  // A directory that is no kernel filesystem itself but holds one: the bind
  // is recursive and would take it along. On a cgroup v1 host
  // /sys/fs/cgroup is a tmpfs holding the hierarchies (before the fix the
  // container listed the host's cgroups there); /dev is a devtmpfs holding
  // the host's devpts and mqueue.
  refused("/sys/fs/cgroup", "h5", {"/sys/fs/cgroup"});
  refused("/dev", "h8", {"filesystem is mounted below it"});
  // The directory holding this runtime's --root (and the audit log): the
  // sandbox's setup refuses to reach below the state directory (0700) to
  // hide the exec socket there, so the container fails (before start:
  // "ended before it was started", or just after it, 125, as the race
  // between start and that step of the setup goes) and `run` leaves
  // nothing behind either way.
  refused(b.dir.path().string(), "h6", {""});
  // A source that is not an absolute path.
  refused("etc", "h7", {"not an absolute host path"});
}

// root.path is the engine's (runc takes any directory), but not the host's
// root however it is reached: through a symbolic link in the bundle, or
// /proc/1/root. Control: a root reached through a link to the bundle's own
// rootfs runs.
BOOST_AUTO_TEST_CASE(a_root_path_reaching_the_hosts_root_is_refused) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"true"}));
  fs::create_symlink("/", b.bundle / "hostlink");
  fs::create_symlink("rootfs", b.bundle / "ownlink");
  for (const char* path : {"hostlink", "/proc/1/root", "/proc/self/root/."}) {
    auto config = bundle_config({"true"});
    config["root"]["path"] = path;
    b.write_config(config);
    const auto result = b.oci({"run", "--bundle", b.bundle.string(), "r1"});
    BOOST_TEST(result.status != 0, path);
    // /proc/1/root cannot even be resolved by the runner (its ptrace
    // access check): refused with the field all the same.
    BOOST_TEST((contains(result.err, "is the host's root") || contains(result.err, "Permission denied")), result.err);
    BOOST_TEST(contains(result.err, "root.path"), result.err);
    BOOST_TEST(!fs::exists(b.root / "r1"));
  }
  auto config = bundle_config({"test", "-x", "/bin/busybox"});
  config["root"]["path"] = "ownlink";
  b.write_config(config);
  const auto control = b.oci({"run", "--bundle", b.bundle.string(), "r2"});
  BOOST_TEST(control.status == 0, control.err);
}

// A bind source through a symbolic link (in a directory another container
// of the pod may write) is resolved once, before the checks: what the
// checks see, what the audit trail records and what is mounted are the
// link's target at that moment (a link swapped afterwards makes the mount
// refuse: tests/unit/test_mounts.cpp).
BOOST_AUTO_TEST_CASE(a_bind_source_through_a_symlink_is_pinned_before_the_checks) {
  REQUIRE_BUSYBOX();
  Bundle b(bindable_config({"cat", "/data/marker"}));
  write_bindable_tier(b);
  const auto data = b.dir.path() / "data";
  fs::create_directories(data);
  std::ofstream(data / "marker") << "bound\n";
  ::chmod(data.c_str(), 0755);
  ::chmod((data / "marker").c_str(), 0644);
  fs::create_symlink(data, b.dir.path() / "link");
  auto config = bindable_config({"cat", "/data/marker"});
  config["mounts"].push_back(bind_mount((b.dir.path() / "link").string(), "/data"));
  b.write_config(config);
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "k1"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out == "bound\n");
  const auto audit = Bundle::read_text(b.audit_log);
  BOOST_TEST(contains(audit, "--bind " + data.string() + ":/data"), audit);
  BOOST_TEST(!contains(audit, (b.dir.path() / "link").string()), audit);
}

// rshared (or any propagation option) is not taken: the bind is private in
// the sandbox's mount namespace, so nothing mounted on either side crosses.
BOOST_AUTO_TEST_CASE(shared_propagation_of_a_bind_is_not_taken) {
  REQUIRE_BUSYBOX();
  Bundle b(bindable_config({"true"}));
  write_bindable_tier(b);
  const auto data = b.dir.path() / "data";
  fs::create_directories(data);
  ::chmod(data.c_str(), 0755);
  auto config = bindable_config({"sh", "-c", "echo line=$(grep ' /data ' /proc/self/mountinfo)"});
  config["mounts"].push_back(bind_mount(data.string(), "/data", {"rbind", "rshared", "ro"}));
  b.write_config(config);
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "p1"});
  BOOST_TEST(result.status == 0, result.err);
  const auto line = value_of(result.out, "line");
  BOOST_TEST(contains(line, " /data "), result.out);  // control: it is mounted
  BOOST_TEST(!contains(line, "shared:"), line);
  BOOST_TEST(contains(line, " ro,"), line);
}

// What an image's root tree may hold: a device node (nodev: it cannot be
// opened), a setuid program (nosuid, and no_new_privs), a /proc that is a
// symbolic link (tierbox mounts its own proc in its place), a device node at
// the top (left out).
BOOST_AUTO_TEST_CASE(device_nodes_setuid_programs_and_a_proc_symlink_in_the_root_are_contained) {
  REQUIRE_BUSYBOX();
  auto config = bundle_config({"sh", "-c",
                          "echo node=$(head -c 1 /opt/zero >/dev/null 2>&1 && echo opened || echo refused); "
                          "echo control_node=$(head -c 1 /dev/zero | wc -c); "
                          "echo suid_bit=$(test -u /sbin/busybox && echo set); "
                          "echo sbin_options=$(grep ' /sbin ' /proc/self/mountinfo | cut -d' ' -f6); "
                          "echo nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \\t'); "
                          "echo euid=$(/sbin/busybox id -u); "
                          "echo proc_link=$(test -L /proc && echo link || echo real); "
                          "echo proc_self=$(test -r /proc/self/status && echo readable); "
                          "echo top_node=$(test -e /topzero && echo present || echo absent)"});
  // The digest given: without it the root tree is scanned for the digest,
  // and that scan refuses a device node anywhere (checked below).
  config["annotations"]["io.tierbox.image-digest"] = "sha256:" + std::string(64, '0');
  Bundle b(config);
  const auto rootfs = b.bundle / "rootfs";
  fs::create_directories(rootfs / "opt");
  BOOST_REQUIRE(::mknod((rootfs / "opt" / "zero").c_str(), S_IFCHR | 0666, ::makedev(1, 5)) == 0);
  ::chmod((rootfs / "opt" / "zero").c_str(), 0666);
  BOOST_REQUIRE(::mknod((rootfs / "topzero").c_str(), S_IFCHR | 0666, ::makedev(1, 5)) == 0);
  // Owned by root (the bundle's files are), setuid.
  fs::create_directories(rootfs / "sbin");
  fs::copy_file("/bin/busybox", rootfs / "sbin" / "busybox");
  ::chmod((rootfs / "sbin" / "busybox").c_str(), 04755);
  fs::create_symlink("/", rootfs / "proc");
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "d1"});
  BOOST_TEST(result.status == 0, result.err);
  const auto& out = result.out;
  BOOST_TEST(value_of(out, "node") == "refused", out);
  BOOST_TEST(value_of(out, "control_node") == "1", out);
  BOOST_TEST(value_of(out, "suid_bit") == "set", out);  // the bit is there; the mount ignores it
  BOOST_TEST(contains(value_of(out, "sbin_options"), "nosuid"), out);
  BOOST_TEST(contains(value_of(out, "sbin_options"), "nodev"), out);
  BOOST_TEST(value_of(out, "nnp") == "NoNewPrivs:1", out);
  BOOST_TEST(value_of(out, "euid") == "1000", out);
  BOOST_TEST(value_of(out, "proc_link") == "real", out);
  BOOST_TEST(value_of(out, "proc_self") == "readable", out);
  BOOST_TEST(value_of(out, "top_node") == "absent", out);

  config["annotations"].erase("io.tierbox.image-digest");
  b.write_config(config);
  const auto scanned = b.oci({"run", "--bundle", b.bundle.string(), "d2"});
  BOOST_TEST(scanned.status != 0);
  BOOST_TEST(contains(scanned.err, "a device node, fifo or socket, never allowed in an image"), scanned.err);
  BOOST_TEST(!fs::exists(b.root / "d2"));
}

// Fields of config.json that would loosen the sandbox if they were taken:
// seccomp allowing everything, noNewPrivileges false, sysctls, root with
// extra groups, an unconfined AppArmor profile, no masked or read-only
// paths, an OOM score that protects the task, every device allowed, an
// rlimit above the tier's. The container runs (these are narrowed, not
// refused: docs/kubernetes.md), and inside, the tier's values hold.
BOOST_AUTO_TEST_CASE(loosening_fields_of_config_json_leave_the_tier_in_force) {
  REQUIRE_BUSYBOX();
  auto config = bundle_config({"sh", "-c",
                               "echo seccomp=$(grep '^Seccomp:' /proc/self/status | tr -d ' \\t'); "
                               "echo nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \\t'); "
                               "echo domain=$(cat /proc/sys/kernel/domainname); "
                               "echo ids=$(id -u):$(id -G); "
                               "echo keys=$(grep -c ' /proc/keys ' /proc/self/mountinfo); "
                               "echo sysrq=$( (echo x > /proc/sysrq-trigger) 2>/dev/null && echo written || echo refused); "
                               "echo oom=$(cat /proc/self/oom_score_adj); "
                               "echo nofile=$(ulimit -n)"});
  config["process"]["user"] = {{"uid", 0}, {"gid", 0}, {"additionalGids", {0, 4, 27}}};
  config["process"]["noNewPrivileges"] = false;
  config["process"]["apparmorProfile"] = "unconfined";
  config["process"]["oomScoreAdj"] = -1000;
  config["process"]["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 1048576}, {"hard", 1048576}}});
  config["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {"SCMP_ARCH_X86_64"}}};
  config["linux"]["sysctl"] = {{"kernel.domainname", "pwned"}};
  config["linux"]["maskedPaths"] = json::array();
  config["linux"]["readonlyPaths"] = json::array();
  config["linux"]["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
  Bundle b(config);
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "l1"});
  BOOST_TEST(result.status == 0, result.err);
  const auto& out = result.out;
  BOOST_TEST(value_of(out, "seccomp") == "Seccomp:2", out);
  BOOST_TEST(value_of(out, "nnp") == "NoNewPrivs:1", out);
  BOOST_TEST(value_of(out, "domain") != "pwned", out);
  BOOST_TEST(value_of(out, "ids") == "1000:1000", out);
  BOOST_TEST(value_of(out, "keys") == "1", out);  // masked with /dev/null
  BOOST_TEST(value_of(out, "sysrq") == "refused", out);
  BOOST_TEST(value_of(out, "oom") != "-1000", out);
  BOOST_TEST(value_of(out, "nofile") == "256", out);  // untrusted's
}

// Annotations: a tier name that is a path is refused (tier names are
// [a-z0-9][a-z0-9._-]*, looked up only in the configuration's tiers/).
// (Choosing another installed tier is what the annotation is for: who may
// set it is the pod author; docs/kubernetes.md says so.)
BOOST_AUTO_TEST_CASE(a_tier_annotation_that_is_a_path_is_refused) {
  REQUIRE_BUSYBOX();
  for (const char* name : {"../tiers/untrusted", "/etc/tierbox/tiers/base.json", "UNTRUSTED"}) {
    auto config = bundle_config({"true"});
    config["annotations"]["io.tierbox.tier"] = name;
    Bundle b(config);
    const auto result = b.oci({"run", "--bundle", b.bundle.string(), "t1"});
    BOOST_TEST(result.status != 0, name);
    BOOST_TEST(contains(result.err, "invalid tier name"), result.err);
  }
}

// Annotations are kept in ROOT/ID/state.json, which state, start, kill
// and delete read (at most 1 MiB): 2 MiB of them made a container no
// command could read, kill or delete (it ran until the tier's wall time).
// More than 256 KiB is refused now; the control, 200 KiB, is created,
// read and deleted.
BOOST_AUTO_TEST_CASE(annotations_too_large_for_the_state_are_refused) {
  REQUIRE_BUSYBOX();
  auto config = bundle_config({"sleep", "600"});
  config["annotations"]["big"] = std::string(2 << 20, 'x');
  Bundle b(config);
  const auto refused = b.oci_detached({"create", "--bundle", b.bundle.string(), "a1"});
  BOOST_TEST(refused.status != 0);
  BOOST_TEST(contains(refused.err, "annotations: "), refused.err.substr(0, 300));
  BOOST_TEST(contains(refused.err, "more than 262144"), refused.err.substr(0, 300));
  BOOST_TEST(refused.err.size() < 1000u);
  BOOST_TEST(!fs::exists(b.root / "a1"));

  config["annotations"]["big"] = std::string(200 * 1024, 'x');
  b.write_config(config);
  DeleteAtEnd delete_a2{b, "a2"};
  const auto created = b.oci_detached({"create", "--bundle", b.bundle.string(), "a2"});
  BOOST_REQUIRE_MESSAGE(created.status == 0, created.err.substr(0, 300));
  BOOST_TEST(b.state("a2").at("annotations").at("big").get<std::string>().size() == 200u * 1024);
  BOOST_TEST(b.oci({"delete", "--force", "a2"}).status == 0);
  BOOST_TEST(!fs::exists(b.root / "a2"));
}

// The command line: container ids that would name another directory than
// ROOT/ID, or take another container's; --pid-file through a symbolic link;
// --console-socket that is not a socket.
BOOST_AUTO_TEST_CASE(container_ids_pid_files_and_console_sockets) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sleep", "600"}));
  const auto victim = b.dir.path() / "victim";
  std::ofstream(victim) << "keep\n";
  for (const std::string& id : std::vector<std::string>{"../escape", "a/b", "..", ".", "/abs", std::string(256, 'x'), "x y"}) {
    const auto result = b.oci({"create", "--bundle", b.bundle.string(), id});
    BOOST_TEST(result.status != 0, id);
    BOOST_TEST(contains(result.err, "container id"), result.err);
    for (const char* command : {"state", "delete", "kill"})
      BOOST_TEST(b.oci({command, id}).status != 0, std::string(command) + " " + id);
  }
  // An id whose exec socket would not fit a socket path: said before anything is made.
  const auto long_id = b.oci({"create", "--bundle", b.bundle.string(), std::string(120, 'y')});
  BOOST_TEST(long_id.status != 0);
  BOOST_TEST(contains(long_id.err, "longer than a socket path may be"), long_id.err);
  BOOST_TEST(!fs::exists(b.dir.path() / "escape"));
  BOOST_TEST((!fs::exists(b.root) || fs::is_empty(b.root)));

  // --pid-file that is a symbolic link to a file the engine did not name:
  // replaced (written beside, then renamed over the link), never followed.
  DeleteAtEnd delete_c1{b, "c1"};
  const auto pid_link = b.dir.path() / "c1.pid";
  fs::create_symlink(victim, pid_link);
  const auto created = b.oci_detached({"create", "--bundle", b.bundle.string(), "--pid-file", pid_link.string(), "c1"});
  BOOST_REQUIRE_MESSAGE(created.status == 0, created.err);
  BOOST_TEST(Bundle::read_text(victim) == "keep\n");
  BOOST_TEST(!fs::is_symlink(pid_link));
  BOOST_TEST(std::stoi(Bundle::read_text(pid_link)) == b.state("c1").at("pid").get<int>());

  // An id taken by a live container: refused, and the first is untouched.
  const auto again = b.oci({"create", "--bundle", b.bundle.string(), "c1"});
  BOOST_TEST(again.status != 0);
  BOOST_TEST(contains(again.err, "exists already"), again.err);
  BOOST_TEST(b.state("c1").at("status") == "created");

  // --console-socket that is a regular file or a directory: refused, nothing left.
  auto terminal = bundle_config({"true"});
  terminal["process"]["terminal"] = true;
  b.write_config(terminal);
  fs::create_directories(b.dir.path() / "sockdir");
  for (const auto& not_a_socket : {victim, b.dir.path() / "sockdir", b.dir.path() / "absent.sock"}) {
    const auto result = b.oci({"create", "--bundle", b.bundle.string(), "--console-socket", not_a_socket.string(), "t1"});
    BOOST_TEST(result.status != 0, not_a_socket.string());
    BOOST_TEST(contains(result.err, not_a_socket.string()), result.err);
    BOOST_TEST(!fs::exists(b.root / "t1"));
  }
  BOOST_TEST(Bundle::read_text(victim) == "keep\n");
}

// exec --process asking for root with extra groups, rlimits above the
// tier's, noNewPrivileges false and an unconfined profile: the process runs
// as the container's task does (the tier's user and groups, no_new_privs,
// its seccomp filter, its rlimits).
BOOST_AUTO_TEST_CASE(an_exec_process_asking_for_more_runs_as_the_task) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sleep", "600"}));
  DeleteAtEnd delete_e1{b, "e1"};
  (void)start_sandbox(b, "e1", b.bundle);
  const auto process_file = b.dir.path() / "process.json";
  std::ofstream(process_file)
      << json{{"args", {"sh", "-c",
                        "echo ids=$(id -u):$(id -G); echo nofile=$(ulimit -n); "
                        "echo nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \\t'); "
                        "echo seccomp=$(grep '^Seccomp:' /proc/self/status | tr -d ' \\t')"}},
              {"cwd", "/"},
              {"env", {"PATH=/bin"}},
              {"user", {{"uid", 0}, {"gid", 0}, {"additionalGids", {0, 4, 27}}}},
              {"noNewPrivileges", false},
              {"apparmorProfile", "unconfined"},
              {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 1048576}, {"hard", 1048576}}})}}
             .dump();
  const auto result = b.oci({"exec", "--process", process_file.string(), "e1"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(value_of(result.out, "ids") == "1000:1000", result.out);
  BOOST_TEST(value_of(result.out, "nofile") == "256", result.out);
  BOOST_TEST(value_of(result.out, "nnp") == "NoNewPrivs:1", result.out);
  BOOST_TEST(value_of(result.out, "seccomp") == "Seccomp:2", result.out);
}

BOOST_AUTO_TEST_SUITE_END()
