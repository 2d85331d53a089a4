// Root filesystem images end to end: `tierbox rootfs build minimal` into a
// store of the test's own, the shipped `sealed` tier on it, what the task
// sees (and does not), verify, pinning, OCI import, and inotify.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/temp_dir.h"
#include "harness.h"
#include "integration/rootfs_store.h"

using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const RootfsStore& store() { return minimal_store(); }

// A tier file in the store's config directory.
void write_tier(const std::string& name, const std::string& rootfs) {
  auto text = std::ifstream(fs::path(TIERBOX_SOURCE_DIR) / "profiles/tiers/sealed.json");
  std::stringstream buffer;
  buffer << text.rdbuf();
  auto tier = json::parse(buffer.str());
  tier.erase("$schema");
  tier["rootfs"] = rootfs;
  store().config.write("tiers/" + name + ".json", tier.dump());
}

// sealed-watch: sealed with inotify allowed, the control of the inotify tests.
void write_watch_tier() {
  auto tier = json::parse(std::ifstream(fs::path(TIERBOX_SOURCE_DIR) / "profiles/tiers/sealed.json"));
  tier.erase("$schema");
  auto& deny = tier["seccomp"]["deny"];
  deny.erase(std::remove_if(deny.begin(), deny.end(), [](const json& name) { return name.get<std::string>().rfind("inotify", 0) == 0; }),
             deny.end());
  store().config.write("tiers/sealed-watch.json", tier.dump());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_images)

BOOST_AUTO_TEST_CASE(sealed_runs_a_shell_from_the_image) {
  ProbeWorkspace workspace;
  auto result = store().run("sealed", {"sh", "-c", "ls /; echo ok"}, workspace);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out.find("bin\n") != std::string::npos, result.out);
  BOOST_TEST(result.out.find("ok\n") != std::string::npos, result.out);
}

BOOST_AUTO_TEST_CASE(no_host_directory_tool_or_setuid_program_is_visible) {
  ProbeWorkspace workspace;
  // The host's top-level directories that neither the image nor tierbox has.
  std::set<std::string> own = {"proc", "dev", "tmp", "etc", "workspace"};
  for (const auto& entry : fs::directory_iterator(store().tree(store().digest))) own.insert(entry.path().filename());
  std::string script;
  for (const auto& entry : fs::directory_iterator("/"))
    if (!own.count(entry.path().filename())) script += "test -e " + entry.path().string() + " && echo FOUND " + entry.path().string() + "; ";
  for (const char* tool : {"/usr/bin/nsenter", "/usr/bin/unshare", "/usr/bin/su", "/usr/bin/mount", "/usr/bin/python3", "/usr/lib"})
    script += std::string("test -e ") + tool + " && echo FOUND " + tool + "; ";
  script += "find / -path /proc -prune -o -perm /6000 -print; echo done";
  auto sealed = store().run("sealed", {"sh", "-c", script}, workspace);
  BOOST_TEST(sealed.status == 0, sealed.err);
  BOOST_TEST(sealed.out == "done\n", sealed.out);
  // Control: the same script on the host's /usr finds the host's tools.
  auto host = store().run("untrusted", {"/bin/sh", "-c", script}, workspace);
  BOOST_TEST(host.out.find("FOUND /usr/bin/nsenter") != std::string::npos, host.out);
  BOOST_TEST(host.out.find("/usr/bin/su\n") != std::string::npos, host.out);  // setuid root on the host
}

BOOST_AUTO_TEST_CASE(the_mount_table_names_no_host_path_but_the_workspace) {
  ProbeWorkspace workspace;
  auto sealed = store().run("sealed", {"cat", "/proc/self/mountinfo"}, workspace);
  BOOST_TEST(sealed.status == 0, sealed.err);
  BOOST_TEST(sealed.out.find(workspace.str()) != std::string::npos, sealed.out);
  auto found = host_paths_in(sealed.out, workspace.str(), store().store);
  BOOST_TEST(found.empty(), json(found).dump());
  // Control: untrusted's table names the host's /usr.
  auto host = store().run("untrusted", {"cat", "/proc/self/mountinfo"}, workspace);
  BOOST_TEST(!host_paths_in(host.out, workspace.str(), store().store).empty(), host.out);
}

BOOST_AUTO_TEST_CASE(the_static_probe_runs_in_the_image_and_finds_no_way_out) {
  ProbeWorkspace workspace;
  auto result = store().run("sealed", {"./probe-static", "escape"}, workspace);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  auto report = json::parse(result.out);
  BOOST_TEST(report["host_paths_visible"].empty(), report["host_paths_visible"].dump());
  BOOST_TEST(report["root_parent_is_root"] == true);
  BOOST_TEST(report["fd_escapes"].empty(), report["fd_escapes"].dump());
}

// The identity and mount checks test_sandbox.cpp makes in untrusted, in the
// image tier: no capability, no_new_privs, every namespace new, the task's
// uid, every mount nosuid and nodev, read-only unless it is a planned
// writable one, kernel knobs not writable.
BOOST_AUTO_TEST_CASE(the_sandbox_checks_of_the_host_tiers_hold_in_the_image_tier) {
  ProbeWorkspace workspace;
  auto result = store().run("sealed", {"./probe-static", "info"}, workspace);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  auto info = json::parse(result.out);
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    BOOST_TEST(info[set] == "0000000000000000", set << " = " << info[set]);
  BOOST_TEST(info["NoNewPrivs"] == "1");
  for (const char* attempt : {"setuid0", "sethostname", "mount_tmpfs", "mknod", "unshare_mount"})
    BOOST_TEST(info[attempt] == "EPERM", attempt << ": " << info[attempt]);
  BOOST_TEST(info["uid"] == 1000);
  BOOST_TEST(info["groups"].empty(), info["groups"].dump());
  for (const char* name : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"}) {
    struct stat host {};
    BOOST_REQUIRE(::stat((std::string("/proc/self/ns/") + name).c_str(), &host) == 0);
    BOOST_TEST(info["namespaces"][name].get<ino_t>() != host.st_ino, name << " namespace is the host's");
  }
  const std::set<std::string> writable = {"/tmp", "/dev/pts", "/dev/shm", "/dev/null", "/dev/zero", "/dev/full",
                                          "/dev/random", "/dev/urandom", "/dev/tty", "/proc"};
  BOOST_TEST(info["mounts"].size() > 5u, info["mounts"].dump());
  for (const auto& mount : info["mounts"]) {
    const std::string point = mount["mount_point"];
    const std::string options = "," + mount["options"].get<std::string>() + ",";
    BOOST_TEST(options.find(",nosuid,") != std::string::npos, point << " lacks nosuid");
    if (!writable.count(point)) BOOST_TEST(options.find(",ro,") != std::string::npos, point << " is writable: " << options);
    if (mount["fstype"] != "devtmpfs" && point != "/dev/pts") BOOST_TEST(options.find(",nodev,") != std::string::npos, point << " lacks nodev");
  }
  auto writes = store().run("sealed", {"./probe-static", "write", "/bin/busybox", "/etc", "/proc/sys/kernel/hostname", "/workspace"}, workspace);
  BOOST_REQUIRE_MESSAGE(writes.status == 0, writes.err);
  const auto outcomes = json::parse(writes.out);
  BOOST_TEST(outcomes.size() == 4u, outcomes.dump());
  for (const auto& [path, outcome] : outcomes.items()) BOOST_TEST(outcome != "ok", path << ": " << outcome);
}

// Mechanism: the sealed tier denies inotify (and fanotify_init) by seccomp.
// A per-run mount of the image would not help: inotify watches inodes, and
// every run's mount of the image shows the same inodes. Control: the image
// tier with inotify allowed can watch, and sees another run execute /bin/sh.
BOOST_AUTO_TEST_CASE(inotify_is_denied_in_the_image_tier) {
  ProbeWorkspace workspace;
  auto denied = store().run("sealed", {"./probe-static", "syscall", "294", "0"}, workspace);  // inotify_init1
  BOOST_TEST(json::parse(denied.out)["result"] == "EPERM", denied.out);
  auto fanotify = store().run("sealed", {"./probe-static", "syscall", "300", "0", "0"}, workspace);  // fanotify_init
  BOOST_TEST(json::parse(fanotify.out)["result"] == "EPERM", fanotify.out);
  // Control: the same image tier without the denial.
  write_watch_tier();
  auto allowed = store().run("sealed-watch", {"./probe-static", "syscall", "294", "0"}, workspace);
  BOOST_TEST(json::parse(allowed.out)["result"] == "ok", allowed.out + allowed.err);
}

// The issue's test: a watch inside run A on the image's /usr/bin sees nothing
// while run B (same image) and the host run programs from the image. sealed:
// A cannot watch at all (EPERM). Controls: the image tier with inotify
// allowed sees both (the leak the denial stops: inotify watches inodes, and
// every run's mount of the image shows the same ones), and so does the same
// watch on the host's /usr/bin in readonly, a host-/usr tier that allows
// inotify, while run B and the host run /usr/bin/true.
BOOST_AUTO_TEST_CASE(a_watch_in_one_run_sees_nothing_of_another_or_the_host) {
  ProbeWorkspace workspace;
  write_watch_tier();
  const auto image_busybox = (store().tree(store().digest) / "bin/busybox").string();
  const auto watch_while_others_run = [&](const std::string& tier, const std::string& probe,
                                          const std::function<void()>& others) {
    BackgroundRun watcher({"run", "--config-dir", store().config.str(), "--tier", tier, "--workspace", workspace.str(), "--",
                           probe, "watch", "/usr/bin", "3"});
    const bool watching = !watcher.wait_for_line("watching", std::chrono::seconds(10)).empty();
    others();  // also when A could not watch: it must see nothing of them
    BOOST_TEST(watcher.wait() == 0);
    auto report = json::parse(watcher.out());
    BOOST_TEST(watching == (report["result"] == "ok"), report.dump());
    return report;
  };
  const auto image_programs = [&] {
    BOOST_TEST(store().run("sealed", {"sh", "-c", "true"}, workspace).status == 0);  // run B
    BOOST_TEST(run_process({image_busybox, "true"}).status == 0);                    // the host
  };
  auto sealed = watch_while_others_run("sealed", "./probe-static", image_programs);
  BOOST_TEST(sealed["result"] == "EPERM", sealed.dump());
  BOOST_TEST(!sealed.contains("opened"), sealed.dump());
  // Control 1: the image tier with inotify allowed sees the image's busybox run.
  auto allowed = watch_while_others_run("sealed-watch", "./probe-static", image_programs);
  BOOST_TEST(allowed["result"] == "ok", allowed.dump());
  BOOST_TEST(allowed["opened"].dump().find("busybox") != std::string::npos, allowed.dump());
  // Control 2: readonly on the host's /usr sees run B's and the host's programs.
  auto host = watch_while_others_run("readonly", "./probe", [&] {
    BOOST_TEST(store().run("untrusted", {"/usr/bin/true"}, workspace).status == 0);
    BOOST_TEST(run_process({"/usr/bin/true"}).status == 0);
  });
  BOOST_TEST(host["result"] == "ok", host.dump());
  BOOST_TEST(host["opened"].dump().find("\"true\"") != std::string::npos, host.dump());
}

// allowed_commands in an image tier resolve inside the image, never on the
// host: sh (busybox there) runs, ls is refused, the host's python3 is not
// found, and a sha256 pin is checked against the image's file.
BOOST_AUTO_TEST_CASE(allowed_commands_resolve_inside_the_image) {
  ProbeWorkspace workspace;
  const auto busybox = store().tree(store().digest) / "bin/busybox";
  const auto digest_of_busybox = run_process({"/usr/bin/sha256sum", busybox.string()}).out.substr(0, 64);
  const auto write_commands_tier = [&](const std::string& name, const json& allowed) {
    auto tier = json::parse(std::ifstream(fs::path(TIERBOX_SOURCE_DIR) / "profiles/tiers/sealed.json"));
    tier.erase("$schema");
    tier["allowed_commands"] = allowed;
    store().config.write("tiers/" + name + ".json", tier.dump());
  };
  write_commands_tier("sealed-commands", {"sh", "/usr/bin/python3", {{"path", "/bin/cat"}, {"sha256", digest_of_busybox}}});
  auto sh = store().run("sealed-commands", {"sh", "-c", "echo ok"}, workspace);
  BOOST_TEST(sh.status == 0, sh.err);
  BOOST_TEST(sh.out == "ok\n");
  auto ls = store().run("sealed-commands", {"ls", "/"}, workspace);
  BOOST_TEST(ls.status == 126);
  BOOST_TEST(ls.err.find("\"ls\" resolves to /bin/ls, which tier 'sealed-commands' does not allow") != std::string::npos, ls.err);
  // On the host /usr/bin/python3 exists; in the image it does not.
  BOOST_REQUIRE(fs::exists("/usr/bin/python3"));
  auto python = store().run("sealed-commands", {"/usr/bin/python3", "-c", "1"}, workspace);
  BOOST_TEST(python.status == 127, python.err);
  BOOST_TEST(python.err.find("not found in the sandbox") != std::string::npos, python.err);
  // The pin matches the image's busybox (cat links to it).
  auto cat = store().run("sealed-commands", {"cat", "/etc/hostname"}, workspace);
  BOOST_TEST(cat.status == 0, cat.err);
  // A pin the image's file does not have refuses the launch; profile check says so too.
  write_commands_tier("sealed-commands-wrong", {{{"path", "/bin/cat"}, {"sha256", std::string(64, 'f')}}});
  auto wrong = store().run("sealed-commands-wrong", {"cat", "/etc/hostname"}, workspace);
  BOOST_TEST(wrong.status == 126);
  BOOST_TEST(wrong.err.find("the file now has sha256 " + digest_of_busybox) != std::string::npos, wrong.err);
  auto check = run_tierbox({"profile", "check", "--config-dir", store().config.str(),
                            (store().config.path() / "tiers/sealed-commands-wrong.json").string()});
  BOOST_TEST(check.status == 1);
  BOOST_TEST(check.err.find("has sha256 " + digest_of_busybox) != std::string::npos, check.err);
}

BOOST_AUTO_TEST_CASE(a_pinned_digest_that_differs_is_refused_naming_both) {
  ProbeWorkspace workspace;
  const std::string wrong = "sha256:" + std::string(64, '0');
  write_tier("pinned-wrong", "image:minimal@" + wrong);
  auto refused = store().run("pinned-wrong", {"true"}, workspace);
  BOOST_TEST(refused.status == 126);
  BOOST_TEST(refused.err.find(wrong) != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find(store().digest) != std::string::npos, refused.err);
  // Control: pinned at the image's own digest, it runs.
  write_tier("pinned-right", "image:minimal@" + store().digest);
  auto ran = store().run("pinned-right", {"true"}, workspace);
  BOOST_TEST(ran.status == 0, ran.err);
  // profile check flags the changed image as an error.
  auto check = run_tierbox({"profile", "check", "--config-dir", store().config.str(), "pinned-wrong"});
  BOOST_TEST(check.status == 1);
  BOOST_TEST(check.err.find("changed since it was pinned") != std::string::npos, check.err);
  // Unpinned, reviewed before the image was made: check and list flag it.
  write_tier("unpinned-old", "image:minimal");
  auto tier = json::parse(std::ifstream(store().config.path() / "tiers/unpinned-old.json"));
  tier["reviewed_on"] = "2026-01-01";
  store().config.write("tiers/unpinned-old.json", tier.dump());
  const auto tier_file = (store().config.path() / "tiers/unpinned-old.json").string();
  auto old = run_tierbox({"profile", "check", "--config-dir", store().config.str(), tier_file});
  BOOST_TEST(old.err.find("the image changed since the tier was last reviewed: made ") != std::string::npos, old.err);
  auto listed = json::parse(run_tierbox({"profile", "list", "--json", "--config-dir", store().config.str()}).out);
  std::string status;
  for (const auto& row : listed)
    if (row["tier"] == "unpinned-old") status = row.value("rootfs_status", "");
  BOOST_TEST(status.find("changed since the tier was last reviewed") != std::string::npos, listed.dump());
  // Control: pinned-right, whose pin is the image's, is not flagged.
  auto right = run_tierbox({"profile", "check", "--config-dir", store().config.str(),
                            (store().config.path() / "tiers/pinned-right.json").string()});
  BOOST_TEST(right.err.find("changed since") == std::string::npos, right.err);
}

BOOST_AUTO_TEST_CASE(verify_names_modified_added_and_removed_files) {
  TempDir source;
  source.write("root/bin/a", "a");
  source.write("root/bin/b", "b");
  BOOST_REQUIRE(std::system(("tar -C " + source.str() + "/root -cf " + source.str() + "/image.tar .").c_str()) == 0);
  auto imported = store().rootfs({"import", "victim", source.str() + "/image.tar"});
  BOOST_REQUIRE_MESSAGE(imported.status == 0, imported.err);
  auto intact = store().rootfs({"verify", "victim"});
  BOOST_TEST(intact.status == 0, intact.out);
  BOOST_TEST(intact.out.find("intact") != std::string::npos);
  std::istringstream words(imported.out);
  std::string verb, name, digest;
  words >> verb >> name >> digest;
  const auto tree = store().tree(digest);
  std::ofstream(tree / "bin/a", std::ios::app) << "changed";
  std::ofstream(tree / "bin/new") << "planted";
  fs::remove(tree / "bin/b");
  auto changed = store().rootfs({"verify", "victim"});
  BOOST_TEST(changed.status == 1);
  BOOST_TEST(changed.out.find("modified /bin/a (size, sha256)") != std::string::npos, changed.out);
  BOOST_TEST(changed.out.find("added /bin/new") != std::string::npos, changed.out);
  BOOST_TEST(changed.out.find("removed /bin/b") != std::string::npos, changed.out);
  BOOST_TEST(store().rootfs({"remove", "victim"}).status == 0);
  BOOST_TEST(!fs::exists(tree));
}

// An OCI image archive as podman save --format oci-archive writes it: two
// layers, the second whiting out a file and a directory's old content.
BOOST_AUTO_TEST_CASE(an_oci_archive_imports_with_layers_and_whiteouts) {
  TempDir work;
  const std::string script = R"PY(
import hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
def tar_of(files):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode='w') as t:
        for name, content in files:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE; info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(content); info.mode = 0o644
                t.addfile(info, io.BytesIO(content))
    return data.getvalue()
blobs = {}
def blob(data):
    digest = hashlib.sha256(data).hexdigest(); blobs[digest] = data
    return {'digest': 'sha256:' + digest, 'size': len(data)}
layer1 = blob(tar_of([('etc', None), ('etc/keep', b'k'), ('etc/gone', b'g'), ('data', None), ('data/old', b'o')]))
layer2 = blob(tar_of([('etc', None), ('etc/.wh.gone', b''), ('etc/new', b'n'), ('data', None), ('data/.wh..wh..opq', b''), ('data/fresh', b'f')]))
config = blob(json.dumps({'architecture': 'amd64', 'os': 'linux'}).encode())
manifest = blob(json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'config': config, 'layers': [layer1, layer2]}).encode())
index = json.dumps({'schemaVersion': 2, 'manifests': [dict(manifest, mediaType='application/vnd.oci.image.manifest.v1+json')]}).encode()
files = [('oci-layout', json.dumps({'imageLayoutVersion': '1.0.0'}).encode()), ('index.json', index), ('blobs', None), ('blobs/sha256', None)]
files += [('blobs/sha256/' + d, b) for d, b in blobs.items()]
open(out, 'wb').write(tar_of(files))
)PY";
  work.write("make_oci.py", script);
  BOOST_REQUIRE(std::system(("python3 " + work.str() + "/make_oci.py " + work.str() + "/image.oci.tar").c_str()) == 0);
  auto imported = store().rootfs({"import", "oci-test", work.str() + "/image.oci.tar"});
  BOOST_REQUIRE_MESSAGE(imported.status == 0, imported.err);
  std::istringstream words(imported.out);
  std::string verb, name, digest;
  words >> verb >> name >> digest;
  const auto tree = store().tree(digest);
  std::set<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(tree)) entries.insert(entry.path().lexically_relative(tree).string());
  BOOST_TEST((entries == std::set<std::string>{"etc", "etc/keep", "etc/new", "data", "data/fresh"}), json(entries).dump());
  BOOST_TEST(store().rootfs({"list"}).out.find("oci-test") != std::string::npos);
  BOOST_TEST(store().rootfs({"remove", "oci-test"}).status == 0);
}

// Bad input: one line naming the file, the entry and why; exit 125; nothing stored.
BOOST_AUTO_TEST_CASE(bad_imports_fail_with_one_line) {
  TempDir source;
  fs::create_directories(source.path() / "d");
  BOOST_REQUIRE(std::system(("mknod " + source.str() + "/d/null c 1 3 && tar -C " + source.str() + "/d -cf " +
                             source.str() + "/device.tar ./null").c_str()) == 0);
  auto device = store().rootfs({"import", "with-device", source.str() + "/device.tar"});
  BOOST_TEST(device.status == 125);
  BOOST_TEST(device.err.find("device.tar: entry \"null\": a device node") != std::string::npos, device.err);
  BOOST_TEST(std::count(device.err.begin(), device.err.end(), '\n') == 1);
  BOOST_TEST(store().rootfs({"list"}).out.find("with-device") == std::string::npos);
  auto name = store().rootfs({"import", "../escape", source.str() + "/device.tar"});
  BOOST_TEST(name.status == 125);
  BOOST_TEST(name.err.find("image name \"../escape\"") != std::string::npos, name.err);
  auto missing = store().rootfs({"verify", "no-such-image"});
  BOOST_TEST(missing.status == 125);
  BOOST_TEST(missing.err.find("tierbox rootfs list") != std::string::npos, missing.err);
}

BOOST_AUTO_TEST_CASE(the_store_is_root_only_and_images_immutable) {
  struct stat st {};
  BOOST_REQUIRE(::stat(store().store.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  BOOST_TEST(st.st_uid == 0u);
  BOOST_REQUIRE(::stat((store().tree(store().digest) / "bin/busybox").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0222) == 0u);
  BOOST_TEST((st.st_mode & 06000) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
