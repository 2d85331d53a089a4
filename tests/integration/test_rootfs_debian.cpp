// The `debian` image (rootfs/debian.json: mmdebstrap, a minbase Debian of the
// host's release with python3, git and ca-certificates) built for real, and
// the shipped `sealed-debian` tier on it. Its own ctest label, debian: the
// build downloads about 60 MB from Debian's archive and takes one to two
// minutes (docs/rootfs.md). Skipped, saying why, where the image cannot be
// built: no mmdebstrap, a host that is not Debian, or no way to the archive.
#include <boost/test/unit_test.hpp>

#include <netdb.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "integration/harness.h"
#include "integration/redteam_fixture.h"
#include "integration/rootfs_store.h"

using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Why the image cannot be built here; nullopt when it can.
std::optional<std::string> why_not_buildable() {
  if (run_process({"/bin/sh", "-c", "command -v mmdebstrap"}).status != 0)
    return "mmdebstrap is not installed (tools/install-deps.sh --test installs it)";
  std::ifstream os_release("/etc/os-release");
  std::stringstream text;
  text << os_release.rdbuf();
  if (text.str().find("\nID=debian") == std::string::npos && text.str().rfind("ID=debian", 0) != 0)
    return "the host is not Debian: the recipe's suite \"host\" names the host's Debian release";
  addrinfo* found = nullptr;
  if (::getaddrinfo("deb.debian.org", "80", nullptr, &found) != 0) return "deb.debian.org (Debian's archive) does not resolve: no network to it";
  ::freeaddrinfo(found);
  return std::nullopt;
}

// The store with `debian` built, once per process; nullptr when skipped.
const RootfsStore* debian_store() {
  static const auto reason = why_not_buildable();
  if (reason) {
    BOOST_TEST_MESSAGE("SKIPPED: the debian image cannot be built here: " << *reason);
    return nullptr;
  }
  static const RootfsStore instance("debian");
  BOOST_REQUIRE_MESSAGE(instance.built.status == 0, "rootfs build debian: " + instance.built.err);
  return &instance;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_debian)

BOOST_AUTO_TEST_CASE(sealed_debian_runs_python_and_git_from_the_image) {
  const auto* store = debian_store();
  if (!store) return;
  ProbeWorkspace workspace;
  auto result = store->run("sealed-debian", {"sh", "-c",
      "python3 -c 'import ssl, sys; print(sys.version_info[0])' && git --version && test -s /etc/ssl/certs/ca-certificates.crt && echo ok"},
      workspace);
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(result.out.rfind("3\ngit version ", 0) == 0, result.out);
  BOOST_TEST(result.out.find("ok\n") != std::string::npos, result.out);
}

// The build strips every setuid/setgid bit (and says which); the task finds
// none, and none of the host's own tools.
BOOST_AUTO_TEST_CASE(no_setuid_program_and_no_host_tool_is_visible) {
  const auto* store = debian_store();
  if (!store) return;
  BOOST_TEST(store->built.out.find("stripped usr/bin/su: setuid removed") != std::string::npos, store->built.out);
  ProbeWorkspace workspace;
  std::string script;
  std::vector<std::string> host_only;
  for (const char* tool : {"/usr/bin/cmake", "/usr/bin/g++", "/usr/bin/mmdebstrap", "/usr/bin/qemu-system-x86_64", "/usr/bin/bwrap"})
    if (fs::exists(tool)) script += std::string("test -e ") + tool + " && echo FOUND " + tool + "; ";
  BOOST_REQUIRE_MESSAGE(!script.empty(), "none of the host-only tools is on the host: nothing to look for");
  script += "find / -xdev -perm /6000 -print; echo done";
  auto sealed = store->run("sealed-debian", {"sh", "-c", script}, workspace);
  BOOST_TEST(sealed.status == 0, sealed.err);
  BOOST_TEST(sealed.out == "done\n", sealed.out);
  // Control: the same script on the host's /usr finds them.
  auto host = store->run("untrusted", {"/bin/sh", "-c", script}, workspace);
  BOOST_TEST(host.out.find("FOUND /usr/bin/") != std::string::npos, host.out);
}

BOOST_AUTO_TEST_CASE(the_mount_table_names_no_host_path_but_the_workspace) {
  const auto* store = debian_store();
  if (!store) return;
  ProbeWorkspace workspace;
  auto sealed = store->run("sealed-debian", {"cat", "/proc/self/mountinfo"}, workspace);
  BOOST_TEST(sealed.status == 0, sealed.err);
  BOOST_TEST(sealed.out.find(workspace.str()) != std::string::npos, sealed.out);
  const auto found = host_paths_in(sealed.out, workspace.str(), store->store);
  BOOST_TEST(found.empty(), json(found).dump());
}

BOOST_AUTO_TEST_CASE(the_probe_finds_no_way_out_and_the_image_verifies) {
  const auto* store = debian_store();
  if (!store) return;
  ProbeWorkspace workspace;
  auto result = store->run("sealed-debian", {"./probe-static", "escape"}, workspace);
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  auto report = json::parse(result.out);
  // The probe lists the host's usual directories it finds (/home, /var,
  // ...): here each is the image's own, none is the host's.
  for (const auto& path : report["host_paths_visible"])
    BOOST_TEST(fs::exists(store->tree(store->digest) / path.get<std::string>().substr(1)), path.dump() + " is not the image's");
  BOOST_TEST(report["root_parent_is_root"] == true);
  BOOST_TEST(report["fd_escapes"].empty(), report["fd_escapes"].dump());
  auto denied = store->run("sealed-debian", {"./probe-static", "syscall", "294", "0"}, workspace);  // inotify_init1
  BOOST_TEST(json::parse(denied.out)["result"] == "EPERM", denied.out);
  auto verified = store->rootfs({"verify", "debian"});
  BOOST_TEST(verified.status == 0, verified.out);
  BOOST_TEST(verified.out.find("intact") != std::string::npos, verified.out);
}

// `tierbox redteam` on the shipped sealed-debian tier, with the image this
// suite built: every scenario passes (it is the debian label's part of
// integration.redteam_shipped_tiers, which cannot build the image itself).
BOOST_AUTO_TEST_CASE(redteam_passes_on_sealed_debian) {
  const auto* store = debian_store();
  if (!store) return;
  const RedteamConfig config;
  config.set("rootfs_dir", store->store.string());
  const auto results = config.redteam({"sealed-debian"}, 0);
  require_passed(results[0]);
  // The image's own programs: setuid bits stripped, inotify denied.
  BOOST_TEST(scenario(results[0], "privilege-gain")["observed"].get<std::string>().find("setuid-binaries -> none present") !=
             std::string::npos, results[0].dump());
  BOOST_TEST(scenario(results[0], "host-file-watch")["observed"].get<std::string>().find("inotify:/usr/bin -> EPERM") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
