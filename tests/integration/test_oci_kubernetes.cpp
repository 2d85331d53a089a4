// A Kubernetes pod's container (docs/kubernetes.md, "Kubernetes"): a
// config.json shaped like containerd's CRI gives one (the mounts, the
// annotations), with the kubelet's files made by the test.
//
// - The service-account token under a tier with read-only binds: read at
//   /var/run/secrets/kubernetes.io/serviceaccount/token while the image's
//   other /var entries stay visible. Under untrusted (no binds) the same
//   config is refused with one line naming the mount and the fix; without
//   the token it runs there (control).
// - The termination message: the task writes a file of its own (the task's,
//   0600), which reaches the engine's file only after the container ended
//   (nothing before start); 5000 bytes get ENOSPC and the engine's file holds
//   4096; neither the engine's file nor its directory is in the container
//   (nor a host path in its mountinfo); the runner's tmpfs is on no host
//   mount table afterwards, by either way of making it.
// - An image symlink on a nested target's way (var/run -> HOST DIR) is not
//   followed: the host directory stays empty.
// - A termination-log source that is a directory, a symlink or a FIFO, and
//   two termination-log binds: refused.
// - The writable root with a nested bind: the image's /var entries are
//   overlays still (writable), the token is read.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/temp_dir.h"
#include "harness.h"
#include "oci_fixture.h"

using namespace tierbox;
using namespace tierbox::testing;
using namespace tierbox::testing::oci_fixture;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kTokenTarget = "/var/run/secrets/kubernetes.io/serviceaccount";
constexpr const char* kMessage = "the pod's last words";

// The kubelet's side: the container's termination-message file (empty, as
// the kubelet makes it) and the projected service-account volume.
struct Kubelet {
  fs::path root;
  fs::path message_dir;
  fs::path message_file;
  fs::path token_dir;
  explicit Kubelet(const fs::path& dir)
      : root(dir / "kubelet"),
        message_dir(root / "pods" / "u1" / "containers" / "app"),
        message_file(message_dir / "0a1b2c3d"),
        token_dir(root / "pods" / "u1" / "volumes" / "kubernetes.io~projected" / "kube-api-access") {
    fs::create_directories(message_dir);
    fs::create_directories(token_dir);
    std::ofstream(message_file).flush();
    ::chmod(message_file.c_str(), 0666);
    std::ofstream(token_dir / "token") << "tok-123";
    ::chmod((token_dir / "token").c_str(), 0644);
    for (auto up = token_dir; up != root.parent_path(); up = up.parent_path()) ::chmod(up.c_str(), 0755);
  }
};

json bind_mount(const std::string& source, const std::string& destination, bool read_only) {
  return {{"destination", destination},
          {"type", "bind"},
          {"source", source},
          {"options", read_only ? json{"rbind", "rprivate", "ro"} : json{"rbind", "rprivate", "rw"}}};
}

// The CRI's mounts for a pod's container, and its annotations.
json pod_config(const std::string& tier, const std::string& script, const Kubelet& kubelet, bool with_token) {
  auto config = bundle_config({"sh", "-c", script});
  config["annotations"] = {{"io.kubernetes.cri.container-type", "container"}, {"io.tierbox.tier", tier}};
  auto& mounts = config["mounts"];
  mounts.push_back({{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}});
  mounts.push_back({{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"}, {"options", {"ro"}}});
  mounts.push_back(bind_mount((kubelet.root / "etc-hosts").string(), "/etc/hosts", false));
  mounts.push_back(bind_mount(kubelet.message_file.string(), "/dev/termination-log", false));
  mounts.push_back(bind_mount((kubelet.root / "hostname").string(), "/etc/hostname", false));
  mounts.push_back(bind_mount((kubelet.root / "resolv.conf").string(), "/etc/resolv.conf", true));
  mounts.push_back(bind_mount((kubelet.root / "shm").string(), "/dev/shm", false));
  if (with_token) mounts.push_back(bind_mount(kubelet.token_dir.string(), kTokenTarget, true));
  return config;
}

// pod-binds: untrusted with read-only binds; pod-writable: and a writable
// root. Both run unasked (the shipped matrix asks a person to confirm binds).
void write_tiers(const Bundle& b) {
  fs::create_directories(b.config / "tiers");
  std::ofstream(b.config / "tiers" / "pod-binds.json")
      << json{{"extends", "untrusted"}, {"widening", {{"binds", "read-only"}}}}.dump();
  std::ofstream(b.config / "tiers" / "pod-writable.json")
      << json{{"extends", "untrusted"},
              {"container", {{"writable_root", true}}},
              {"limits", {{"disk", "8M"}}},
              {"widening", {{"binds", "read-only"}}}}
             .dump();
  std::ofstream(b.config / "approvals.json")
      << json{{"tiers", {"pod-binds", "pod-writable", "untrusted"}}, {"rules", {{{"id", "open"}, {"require", "none"}}}}}
             .dump();
}

// The image's /var: lib/app/data, lib/dpkg/status, cache/; the applets below.
void add_image_parts(const Bundle& b) {
  const auto rootfs = b.bundle / "rootfs";
  fs::create_directories(rootfs / "var" / "lib" / "app");
  fs::create_directories(rootfs / "var" / "lib" / "dpkg");
  fs::create_directories(rootfs / "var" / "cache");
  std::ofstream(rootfs / "var" / "lib" / "app" / "data") << "image-data";
  std::ofstream(rootfs / "var" / "lib" / "dpkg" / "status") << "dpkg-status";
  for (const auto& dir : {rootfs / "var", rootfs / "var" / "lib", rootfs / "var" / "lib" / "app",
                          rootfs / "var" / "lib" / "dpkg", rootfs / "var" / "cache"})
    ::chmod(dir.c_str(), 0755);
  for (const char* applet : {"dd", "stat", "head"})
    if (!fs::exists(rootfs / "bin" / applet)) fs::create_symlink("busybox", rootfs / "bin" / applet);
}

ProcessResult oci_with(const Bundle& b, std::vector<std::string> args, const std::vector<std::string>& extra_env) {
  args.insert(args.begin(), {"oci", "--root", b.root.string(), "--config-dir", b.config.string()});
  SpawnOptions options;
  options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TIERBOX_AUDIT_LOG=" + b.audit_log.string()};
  options.env.insert(options.env.end(), extra_env.begin(), extra_env.end());
  return run_tierbox(args, options);
}

// create as an engine calls it (Bundle::oci_detached: stdio that is not the
// test's pipes), with extra_env.
ProcessResult create_detached(const Bundle& b, const std::string& id, const std::vector<std::string>& extra_env) {
  std::string command = "exec env";
  for (const auto& entry : extra_env) command += " '" + entry + "'";
  command += " '" + std::string(kTierbox) + "' oci --root '" + b.root.string() + "' --config-dir '" + b.config.string() +
             "' create --bundle '" + b.bundle.string() + "' " + id;
  const auto out = b.dir.path() / (id + ".out");
  command += " </dev/null >'" + out.string() + "' 2>&1";
  SpawnOptions options;
  options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TIERBOX_AUDIT_LOG=" + b.audit_log.string()};
  auto result = run_process({"/bin/sh", "-c", command}, options);
  result.out = Bundle::read_text(out);
  return result;
}

bool on_host_mount_table(const std::string& part) {
  return Bundle::read_text("/proc/self/mountinfo").find(part) != std::string::npos;
}

// The container's view: the token, the image's /var, the termination-log
// file's owner and mode, its mountinfo line, the engine's directory.
std::string pod_script(const Kubelet& kubelet) {
  return "exec 2>&1; echo token=$(cat /var/run/secrets/kubernetes.io/serviceaccount/token)"
         "; echo data=$(cat /var/lib/app/data); echo dpkg=$(cat /var/lib/dpkg/status)"
         "; ls -d /var/cache && echo cache-visible"
         "; echo owner=$(stat -c '%u %a' /dev/termination-log) me=$(id -u)"
         "; printf \"%s\" \"" + std::string(kMessage) + "\" > /dev/termination-log; echo write-status=$?"
         "; ls " + kubelet.message_dir.string() + "; echo ls-engine-dir-status=$?"
         "; echo mountinfo: $(grep ' /dev/termination-log ' /proc/self/mountinfo)"
         "; echo end";
}

void check_pod_run(const std::vector<std::string>& extra_env) {
  Bundle b(bundle_config({"true"}));
  write_tiers(b);
  add_image_parts(b);
  const Kubelet kubelet(b.dir.path());
  b.write_config(pod_config("pod-binds", pod_script(kubelet), kubelet, true));
  const auto created = create_detached(b, "k1", extra_env);
  BOOST_REQUIRE_MESSAGE(created.status == 0, "create: " + created.out);
  // Nothing reaches the engine's file before start.
  BOOST_TEST(Bundle::read_text(kubelet.message_file).empty());
  BOOST_REQUIRE(b.oci({"start", "k1"}).status == 0);
  BOOST_REQUIRE(b.wait_for_status("k1", "stopped"));
  BOOST_TEST(Bundle::read_text(kubelet.message_file) == kMessage);
  // What it saw (its stdio: the file create_detached gave it).
  const auto seen = Bundle::read_text(b.dir.path() / "k1.out");
  BOOST_TEST(contains(seen, "token=tok-123\n"), seen);
  BOOST_TEST(contains(seen, "write-status=0"), seen);
  BOOST_TEST(b.oci({"delete", "k1"}).status == 0);
  BOOST_TEST(!on_host_mount_table("tierbox-termination-message"));
  // The mounted way's directory is gone with its mount (the state directory's).
  const fs::path leftovers = "/run/tierbox/termination-messages";
  BOOST_TEST((!fs::exists(leftovers) || fs::is_empty(leftovers)));

  // The same container through run (stdio here): what it saw.
  std::ofstream(kubelet.message_file, std::ios::trunc).flush();
  const auto result = oci_with(b, {"run", "--bundle", b.bundle.string(), "k2"}, extra_env);
  BOOST_TEST_MESSAGE("container output:\n" << result.out << result.err);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(contains(result.out, "token=tok-123\n"), result.out);
  BOOST_TEST(contains(result.out, "data=image-data\n"), result.out);    // the image's /var/lib stays
  BOOST_TEST(contains(result.out, "dpkg=dpkg-status\n"), result.out);
  BOOST_TEST(contains(result.out, "cache-visible"), result.out);
  BOOST_TEST(contains(result.out, "write-status=0"), result.out);
  BOOST_TEST(contains(result.out, "owner=1000 600 me=1000"), result.out);  // the task's own, no one else's
  BOOST_TEST(!contains(result.out, "ls-engine-dir-status=0"), result.out);
  BOOST_TEST(contains(result.out, "mountinfo: "), result.out);
  const auto line = result.out.substr(result.out.find("mountinfo: "));
  BOOST_TEST(contains(line.substr(0, line.find('\n')), "/dev/termination-log"), line);
  BOOST_TEST(!contains(line.substr(0, line.find('\n')), b.dir.path().string()), line);
  BOOST_TEST(!contains(line.substr(0, line.find('\n')), "/var/lib/tierbox"), line);
  BOOST_TEST(Bundle::read_text(kubelet.message_file) == kMessage);
  // The start record says so.
  bool said = false;
  for (const auto& record : b.audit_records())
    if (record.at("event") == "start" && record.contains("termination_message"))
      said = record.at("termination_message").at("target") == "/dev/termination-log";
  BOOST_TEST(said);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_kubernetes)

BOOST_AUTO_TEST_CASE(a_pod_container_reads_its_token_and_leaves_its_termination_message) {
  REQUIRE_BUSYBOX();
  check_pod_run({});
}

// Debian 12's kernel (6.1) clones no detached mount: the tmpfs is mounted
// under the state directory for a moment. The same checks, that way.
BOOST_AUTO_TEST_CASE(the_termination_message_the_mounted_way) {
  REQUIRE_BUSYBOX();
  check_pod_run({"TIERBOX_TEST_MOUNTED_TERMINATION_MESSAGE=1"});
}

// Past 4096 bytes: ENOSPC, and the engine's file holds at most 4096.
BOOST_AUTO_TEST_CASE(a_termination_message_past_4096_bytes_is_cut_with_enospc) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"true"}));
  write_tiers(b);
  add_image_parts(b);
  const Kubelet kubelet(b.dir.path());
  b.write_config(pod_config("untrusted",
                            "exec 2>&1; dd if=/dev/zero of=/dev/termination-log bs=5000 count=1; echo dd-status=$?",
                            kubelet, false));
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "k3"});
  BOOST_TEST_MESSAGE("container output:\n" << result.out << result.err);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(contains(result.out, "No space left on device"), result.out);
  BOOST_TEST(!contains(result.out, "dd-status=0"), result.out);
  BOOST_TEST(fs::file_size(kubelet.message_file) == 4096u);
}

// Under untrusted (no binds) the token is refused with the fix; without it
// the same container runs there, and its termination message arrives.
BOOST_AUTO_TEST_CASE(the_token_under_a_tier_without_binds_is_refused_with_the_fix) {
  REQUIRE_BUSYBOX();
  TempDir dir("tierbox-k8s");
  const Kubelet kubelet(dir.path());
  expect_refused(pod_config("untrusted", "true", kubelet, true), "k4",
                 std::string("(") + kTokenTarget + "): the pod's service-account token; tier 'untrusted' allows no binds");
  expect_refused(pod_config("untrusted", "true", kubelet, true), "k4b", "fix: automountServiceAccountToken: false");
  Bundle b(pod_config("untrusted", std::string("printf done > /dev/termination-log; echo ran"), kubelet, false));
  add_image_parts(b);
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "k5"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(contains(result.out, "ran"), result.out);
  BOOST_TEST(Bundle::read_text(kubelet.message_file) == "done");
}

// The image's var/run is a symlink to a host directory: the token's target
// goes through it. It is not followed: the host directory stays empty, the
// container's /var/run is a directory, the token is there.
BOOST_AUTO_TEST_CASE(an_image_symlink_on_a_nested_targets_way_is_not_followed) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"true"}));
  write_tiers(b);
  add_image_parts(b);
  const Kubelet kubelet(b.dir.path());
  const auto outside = b.dir.path() / "outside";
  fs::create_directories(outside);
  ::chmod(outside.c_str(), 01777);
  fs::create_symlink(outside, b.bundle / "rootfs" / "var" / "run");
  b.write_config(pod_config("pod-binds",
                            "exec 2>&1; [ -L /var/run ] && echo var-run-is-a-link || echo var-run-is-a-directory"
                            "; echo token=$(cat /var/run/secrets/kubernetes.io/serviceaccount/token)"
                            "; echo data=$(cat /var/lib/app/data)",
                            kubelet, true));
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "k6"});
  BOOST_TEST_MESSAGE("container output:\n" << result.out << result.err);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(contains(result.out, "var-run-is-a-directory"), result.out);
  BOOST_TEST(contains(result.out, "token=tok-123"), result.out);
  BOOST_TEST(contains(result.out, "data=image-data"), result.out);
  BOOST_TEST(fs::is_empty(outside));
  BOOST_TEST(!on_host_mount_table(outside.string()));
}

// Only a regular file is the engine's termination-message file; only one.
BOOST_AUTO_TEST_CASE(a_termination_log_that_is_no_regular_file_or_a_second_one_is_refused) {
  REQUIRE_BUSYBOX();
  TempDir dir("tierbox-k8s");
  const Kubelet kubelet(dir.path());
  const auto directory = dir.path() / "a-directory";
  const auto link = dir.path() / "a-symlink";
  const auto fifo = dir.path() / "a-fifo";
  fs::create_directories(directory);
  fs::create_symlink(kubelet.message_file, link);
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0666) == 0);
  int n = 0;
  for (const auto& source : {directory, link, fifo}) {
    auto config = pod_config("untrusted", "true", kubelet, false);
    for (auto& mount : config["mounts"])
      if (mount["destination"] == "/dev/termination-log") mount["source"] = source.string();
    expect_refused(config, "k7-" + std::to_string(n++),
                   "mounts (/dev/termination-log).source \"" + source.string() +
                       "\": the engine's termination-message file");
  }
  auto twice = pod_config("untrusted", "true", kubelet, false);
  twice["mounts"].push_back(bind_mount(kubelet.message_file.string(), "/dev/other-log", false));
  expect_refused(twice, "k8", "(/dev/other-log): a second termination-message file");
}

// A bind at /dev/NAME in a hostile bundle's config.json that is not the
// kubelet's new file (or a pod's hostPath volume given that mountPath where
// the pod's terminationMessagePath is elsewhere), under a tier that binds
// nothing: the runner, which writes the engine's file as root under every
// tier, must not write it. A host file with content (0666 even), an empty one that is not
// writable by all (hostPath FileOrCreate makes 0644: /etc/ld.so.preload), a
// hard link of the kubelet's kind of file, and the kubelet's own file bound
// read-only: each refused at create, the host file as it was. The control:
// the kubelet's file (new, empty, 0666, one link) takes the message.
BOOST_AUTO_TEST_CASE(a_dev_bind_that_is_not_the_kubelets_new_file_is_never_written) {
  REQUIRE_BUSYBOX();
  TempDir dir("tierbox-k8s");
  const Kubelet kubelet(dir.path());
  const auto with_content = dir.path() / "host-config";
  const auto created_0644 = dir.path() / "ld.so.preload";
  const auto linked = dir.path() / "linked";
  std::ofstream(with_content) << "host-secret";
  ::chmod(with_content.c_str(), 0666);
  std::ofstream(created_0644).flush();
  ::chmod(created_0644.c_str(), 0644);
  std::ofstream(linked).flush();
  ::chmod(linked.c_str(), 0666);
  fs::create_hard_link(linked, dir.path() / "linked-too");
  struct Case {
    fs::path source;
    bool read_only;
    std::string expected;
    std::string content;
  };
  const std::vector<Case> cases = {
      {with_content, false, "not a new termination-message file (11 bytes, 1 links, mode 0666)", "host-secret"},
      {created_0644, false, "not a new termination-message file (0 bytes, 1 links, mode 0644)", ""},
      {linked, false, "not a new termination-message file (0 bytes, 2 links, mode 0666)", ""},
      {kubelet.message_file, true, "a host bind below /proc, /dev or /sys; tier 'untrusted' never binds host paths", ""},
  };
  int n = 0;
  for (const auto& c : cases) {
    // The hostile bundle's only bind in /dev (the kubelet's moved out of it).
    auto config = pod_config("untrusted", "printf pwned > /dev/host-file; echo ran", kubelet, false);
    for (auto& mount : config["mounts"])
      if (mount["destination"] == "/dev/termination-log") {
        mount["source"] = c.source.string();
        mount["destination"] = "/dev/host-file";
        if (c.read_only) mount["options"] = json{"rbind", "rprivate", "ro"};
      }
    Bundle b(config);
    add_image_parts(b);
    const auto result = b.oci({"run", "--bundle", b.bundle.string(), "k9-" + std::to_string(n++)});
    BOOST_TEST(result.status != 0, c.source << ": " << result.out);
    BOOST_TEST(contains(result.err, "(/dev/host-file)"), result.err);
    BOOST_TEST(contains(result.err, c.expected), result.err);
    BOOST_TEST(!contains(result.out, "ran"), result.out);
    BOOST_TEST(Bundle::read_text(c.source) == c.content, c.source);
  }
  BOOST_TEST(Bundle::read_text(kubelet.message_file).empty());
  // The control: the kubelet's file, at another /dev name, takes the message.
  auto config = pod_config("untrusted", "printf done > /dev/host-file; echo ran", kubelet, false);
  for (auto& mount : config["mounts"])
    if (mount["destination"] == "/dev/termination-log") mount["destination"] = "/dev/host-file";
  Bundle b(config);
  add_image_parts(b);
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "k9-control"});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(contains(result.out, "ran"), result.out);
  BOOST_TEST(Bundle::read_text(kubelet.message_file) == "done");
}

// The writable root with a nested bind: /var's other entries are the
// image's overlays still (a write lands), the token is read.
BOOST_AUTO_TEST_CASE(a_writable_root_with_a_nested_bind_keeps_its_overlays) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"true"}));
  write_tiers(b);
  add_image_parts(b);
  const Kubelet kubelet(b.dir.path());
  auto config = pod_config("pod-writable",
                           "exec 2>&1; echo written > /var/cache/f && echo cache=$(cat /var/cache/f)"
                           "; echo token=$(cat /var/run/secrets/kubernetes.io/serviceaccount/token)"
                           "; echo dpkg=$(cat /var/lib/dpkg/status)",
                           kubelet, true);
  config["root"]["readonly"] = false;
  b.write_config(config);
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "k9"});
  BOOST_TEST_MESSAGE("container output:\n" << result.out << result.err);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(contains(result.out, "cache=written"), result.out);
  BOOST_TEST(contains(result.out, "token=tok-123"), result.out);
  BOOST_TEST(contains(result.out, "dpkg=dpkg-status"), result.out);
  BOOST_TEST(!fs::exists(b.bundle / "rootfs" / "var" / "cache" / "f"));
}

// The work on the way to nested targets is bounded: an image directory of
// 5,000 entries on the way is refused (one line naming it), not listed and
// mounted entry by entry. Control: the same image with the bind at a target
// of its own (/data) runs.
BOOST_AUTO_TEST_CASE(too_many_image_entries_on_a_nested_targets_way_are_refused) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"true"}));
  write_tiers(b);
  add_image_parts(b);
  const Kubelet kubelet(b.dir.path());
  for (int i = 0; i < 5000; ++i) std::ofstream(b.bundle / "rootfs" / "var" / "lib" / ("f" + std::to_string(i))).flush();
  auto config = pod_config("pod-binds", "echo ran", kubelet, false);
  config["mounts"].push_back(bind_mount(kubelet.token_dir.string(), "/var/lib/app", true));
  b.write_config(config);
  const auto refused = b.oci({"run", "--bundle", b.bundle.string(), "k10"});
  BOOST_TEST(refused.status != 0);
  BOOST_TEST(contains(refused.err, "var/lib\": more than 4096 entries in the directories on the way"), refused.err);
  config["mounts"].back()["destination"] = "/data";
  b.write_config(config);
  const auto control = b.oci({"run", "--bundle", b.bundle.string(), "k11"});
  BOOST_TEST(control.status == 0, control.err);
  BOOST_TEST(contains(control.out, "ran"), control.out);
}

// A runner that died while its termination-message tmpfs was mounted (the
// way before 6.15): gc detaches and removes one older than a minute whose
// run is not live, and leaves a fresh one (the control). In a mount
// namespace of the test's own, where gc runs too.
BOOST_AUTO_TEST_CASE(gc_removes_a_termination_message_tmpfs_its_runner_left) {
  check_gc_removes_a_leftover_tmpfs("termination-messages", "tierbox-termination-message", "termination-message tmpfs");
}

BOOST_AUTO_TEST_SUITE_END()
