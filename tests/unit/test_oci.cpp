// The OCI runtime mode's pure parts: config.json parsing, narrowing to a
// tier (every refusal names its field), the plan of a container root, the
// state JSON and the audit record's container field.
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>

#include "audit/records.h"
#include "common/errors.h"
#include "common/mount_points.h"
#include "common/process_info.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "policy/plan_summary.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::testing;
using nlohmann::json;

namespace {

// What `runc spec` writes (trimmed), with the namespaces and mounts engines give.
json runc_default_spec() {
  return json::parse(R"({
    "ociVersion": "1.0.2",
    "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo hi"],
                "env": ["PATH=/usr/bin:/bin", "TERM=xterm"], "cwd": "/",
                "capabilities": {"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                                 "effective": ["CAP_AUDIT_WRITE", "CAP_KILL"]}},
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "box",
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
      {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
      {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
      {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/x/hosts", "options": ["rbind", "ro"]}
    ],
    "annotations": {"io.tierbox.tier": "untrusted"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
              "resources": {"memory": {"limit": 268435456}, "pids": {"limit": 64}}}
  })");
}

oci::Spec spec_of(const json& document) { return oci::parse_spec(document, "/b/config.json"); }

std::string refusal(const json& document, const std::string& tier = "untrusted") {
  const auto profile = policy::load_tier(tier, {kShipped});
  try {
    (void)oci::narrow_to_tier(spec_of(document), profile, "/b", "c1", "sha256:00");
  } catch (const Refusal& error) {
    BOOST_TEST(error.exit_status() == 126);
    const std::string text = error.what();
    BOOST_TEST(text.find('\n') == std::string::npos);
    return text;
  }
  return "";
}

std::string parse_error(const json& document) {
  try {
    (void)spec_of(document);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_spec)

BOOST_AUTO_TEST_CASE(parses_the_fields_tierbox_reads) {
  const auto spec = spec_of(runc_default_spec());
  BOOST_TEST(spec.oci_version == "1.0.2");
  BOOST_TEST(spec.args == (std::vector<std::string>{"sh", "-c", "echo hi"}), boost::test_tools::per_element());
  BOOST_TEST(spec.cwd == "/");
  BOOST_TEST(spec.root_path == "rootfs");
  BOOST_TEST(spec.root_readonly);
  BOOST_TEST(spec.hostname == "box");
  BOOST_TEST(spec.mounts.size() == 5u);
  BOOST_TEST(spec.namespaces.size() == 5u);
  BOOST_TEST(*spec.memory_limit == 268435456);
  BOOST_TEST(*spec.pids_limit == 64);
  // The union of every capability set, sorted.
  BOOST_TEST(spec.capabilities == (std::vector<std::string>{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}),
             boost::test_tools::per_element());
  BOOST_TEST(oci::tier_of(spec, "base") == "untrusted");
}

BOOST_AUTO_TEST_CASE(bad_fields_are_named_with_the_file) {
  auto document = runc_default_spec();
  document["process"]["args"] = json::array();
  const auto empty_args = parse_error(document);
  BOOST_TEST(contains(empty_args, "/b/config.json: process.args: empty"), empty_args);
  document = runc_default_spec();
  document["hostname"] = "a\nb";
  BOOST_TEST(contains(parse_error(document), "hostname"));
  document = runc_default_spec();
  document["process"]["cwd"] = "relative";
  BOOST_TEST(contains(parse_error(document), "process.cwd: not an absolute path"));
  document = runc_default_spec();
  document.erase("root");
  BOOST_TEST(contains(parse_error(document), "root: missing"));
  document = runc_default_spec();
  document["mounts"][4]["destination"] = "/dev/../etc/passwd";
  BOOST_TEST(contains(parse_error(document), "mounts[4].destination: \"/dev/../etc/passwd\" is not a normalized path"));
  document = runc_default_spec();
  document["mounts"][0]["options"] = "ro";
  BOOST_TEST(contains(parse_error(document), "mounts[0].options: not an array"));
  // Annotations are kept in the container's state: bounded, so that it
  // stays readable by every later command (delete among them).
  document = runc_default_spec();
  document["annotations"]["big"] = std::string(oci::kMaxAnnotationBytes, 'x');
  BOOST_TEST(contains(parse_error(document), "/b/config.json: annotations: "),
             parse_error(document).substr(0, 200));
  BOOST_TEST(contains(parse_error(document), "bytes, more than 262144"));
  document["annotations"]["big"] = std::string(oci::kMaxAnnotationBytes / 2, 'x');
  BOOST_TEST(parse_error(document).empty());
}

BOOST_AUTO_TEST_CASE(the_tier_comes_from_the_annotation_or_the_default) {
  auto document = runc_default_spec();
  document["annotations"] = json::object();
  BOOST_TEST(oci::tier_of(spec_of(document), "base") == "base");
  document["annotations"]["org.opencontainers.image.digest"] = "sha256:ab";
  BOOST_TEST(oci::annotated_digest(spec_of(document)) == "sha256:ab");
  document["annotations"]["io.tierbox.image-digest"] = "sha256:cd";
  BOOST_TEST(oci::annotated_digest(spec_of(document)) == "sha256:cd");
}

BOOST_AUTO_TEST_CASE(a_default_bundle_narrows_to_the_tier) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto narrowed = oci::narrow_to_tier(spec_of(runc_default_spec()), profile, "/b", "c1", "sha256:00");
  const auto& request = narrowed.request;
  BOOST_TEST(request.argv == (std::vector<std::string>{"sh", "-c", "echo hi"}), boost::test_tools::per_element());
  BOOST_TEST(request.caller_env.at("TERM") == "xterm");
  BOOST_REQUIRE(request.container);
  BOOST_TEST(request.container->tree == "/b/rootfs");
  BOOST_TEST(request.container->id == "c1");
  BOOST_TEST(request.container->hostname == "box");
  // Below the tier's 512M and 128: narrowed.
  BOOST_TEST(*request.memory == 268435456u);
  BOOST_TEST(*request.pids == 64u);
  // The engine's /etc/hosts is replaced by tierbox's own; no bind asked for.
  BOOST_TEST(request.binds.empty());
  const auto noted = [&](const std::string& part) {
    return std::any_of(narrowed.notes.begin(), narrowed.notes.end(), [&](const auto& note) { return contains(note, part); });
  };
  BOOST_TEST(noted("process.capabilities: none granted"));
  BOOST_TEST(noted("/sys"));
  BOOST_TEST(noted("/etc/hosts"));
}

BOOST_AUTO_TEST_CASE(a_bind_mount_becomes_a_bind_the_planner_checks) {
  auto document = runc_default_spec();
  document["mounts"].push_back({{"destination", "/data"}, {"type", "bind"}, {"source", "/srv/data"}, {"options", {"rbind"}}});
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto narrowed = oci::narrow_to_tier(spec_of(document), profile, "/b", "c1", "sha256:00");
  BOOST_REQUIRE(narrowed.request.binds.size() == 1u);
  BOOST_TEST(narrowed.request.binds[0].source == "/srv/data");
  BOOST_TEST(narrowed.request.binds[0].target == "/data");
  BOOST_TEST(narrowed.request.binds[0].writable);
  // The planner refuses it like `--bind-rw`: untrusted lets no caller add binds.
  policy::HostFacts facts;
  facts.landlock_abi = 7;
  facts.rootfs_image = policy::RootfsImageFacts{"container:c1", "sha256:00", "/b/rootfs", {}, {}};
  try {
    (void)policy::make_plan(profile, narrowed.request, facts, "r1");
    BOOST_ERROR("a bind mount was planned under a tier without widening.binds");
  } catch (const Refusal& error) {
    BOOST_TEST(contains(error.what(), "widening.binds"), error.what());
  }
}

// Hostile mounts (docs/kubernetes.md): kernel filesystems with options are
// tierbox's own or not mounted, never at another place; `..` anywhere is
// refused at parse; duplicate destinations are refused by the planner like
// two --binds; a config.json with thousands of mounts is read and narrowed
// quickly (the 16 MiB file limit bounds it).
BOOST_AUTO_TEST_CASE(hostile_mounts_are_refused_or_left_to_tierbox) {
  const auto with_mount = [](json mount) {
    auto document = runc_default_spec();
    document["mounts"].push_back(std::move(mount));
    return document;
  };
  // tierbox's own, whatever the options ask.
  BOOST_TEST(refusal(with_mount({{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"},
                                 {"options", {"rw", "suid", "dev", "exec", "hidepid=0", "subset=all"}}})).empty());
  BOOST_TEST(refusal(with_mount({{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"rw"}}})).empty());
  BOOST_TEST(refusal(with_mount({{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
                                 {"options", {"rw", "nosuid"}}})).empty());
  BOOST_TEST(refusal(with_mount({{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}})).empty());
  // Anywhere else: refused by type.
  BOOST_TEST(contains(refusal(with_mount({{"destination", "/mnt/proc"}, {"type", "proc"}, {"source", "proc"}})),
                      "mounts[5] (/mnt/proc).type \"proc\": not supported"));
  BOOST_TEST(contains(refusal(with_mount({{"destination", "/cg"}, {"type", "cgroup2"}, {"source", "cgroup"}})),
                      "(/cg).type \"cgroup2\""));
  BOOST_TEST(contains(refusal(with_mount({{"destination", "/mnt"}, {"type", "overlay"}, {"source", "overlay"}})),
                      "(/mnt).type \"overlay\""));
  // A host bind into tierbox's proc, whatever the source.
  BOOST_TEST(contains(refusal(with_mount({{"destination", "/proc/1"}, {"type", "bind"}, {"source", "/proc/1/root"}})),
                      "a host bind below /proc, /dev or /sys"));
  BOOST_TEST(contains(refusal(with_mount({{"destination", "/proc/sys"}, {"type", "none"}, {"source", "/proc/sys"},
                                         {"options", {"rbind", "rw"}}})),
                      "a host bind below /proc, /dev or /sys"));
  // `..` and other non-normal forms, at parse.
  for (const char* destination : {"/data/..", "/../etc", "/data/./x", "/data//x", "/data/"}) {
    auto document = with_mount({{"destination", destination}, {"type", "bind"}, {"source", "/srv"}});
    BOOST_TEST(contains(parse_error(document), "is not a normalized path"), destination);
  }
  // Duplicate destinations: two binds at one place, refused like two --binds.
  auto document = runc_default_spec();
  for (int i = 0; i < 2; ++i)
    document["mounts"].push_back({{"destination", "/data"}, {"type", "bind"}, {"source", "/srv/" + std::to_string(i)},
                                  {"options", {"rbind", "ro"}}});
  auto profile = policy::load_tier("untrusted", {kShipped});
  profile.widening.binds = policy::BindWidening::read_only;
  const auto narrowed = oci::narrow_to_tier(spec_of(document), profile, "/b", "c1", "sha256:00");
  policy::HostFacts facts;
  facts.landlock_abi = 7;
  facts.rootfs_image = policy::RootfsImageFacts{"container:c1", "sha256:00", "/b/rootfs", {}, {}};
  try {
    (void)policy::make_plan(profile, narrowed.request, facts, "r1");
    BOOST_ERROR("two binds at /data were planned");
  } catch (const Refusal& error) {
    BOOST_TEST(contains(error.what(), "the target overlaps --bind /srv/0:/data"), error.what());
  }
  // Many mounts: 20,000 tmpfs mounts (noted, not mounted) and 2,000 binds at
  // distinct places (each a bind the planner checks) stay quick.
  document = runc_default_spec();
  for (int i = 0; i < 20000; ++i)
    document["mounts"].push_back({{"destination", "/t/" + std::to_string(i)}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  for (int i = 0; i < 2000; ++i)
    document["mounts"].push_back({{"destination", "/d/" + std::to_string(i)}, {"type", "bind"}, {"source", "/srv/x"},
                                  {"options", {"rbind", "ro"}}});
  const auto started = std::chrono::steady_clock::now();
  const auto many = oci::narrow_to_tier(spec_of(document), profile, "/b", "c1", "sha256:00");
  BOOST_TEST(many.request.binds.size() == 2000u);
  (void)policy::make_plan(profile, many.request, facts, "r1");
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  BOOST_TEST_MESSAGE("22,000 mounts narrowed and planned in " << took.count() << " ms");
  BOOST_TEST(took.count() < 10000);
}

BOOST_AUTO_TEST_CASE(privileged_added_capabilities_and_host_namespaces_are_refused) {
  auto document = runc_default_spec();
  document["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
  const auto privileged = refusal(document);
  BOOST_TEST(contains(privileged, "process.capabilities: CAP_SYS_ADMIN: the bundle is privileged"), privileged);

  document = runc_default_spec();
  document["process"]["capabilities"]["bounding"].push_back("CAP_NET_ADMIN");
  BOOST_TEST(contains(refusal(document), "CAP_NET_ADMIN is an added capability"));

  // Control: the engines' default set is not an added capability.
  document = runc_default_spec();
  for (const char* capability : {"CAP_CHOWN", "CAP_SETUID", "CAP_NET_RAW", "CAP_SYS_CHROOT"})
    document["process"]["capabilities"]["bounding"].push_back(capability);
  BOOST_TEST(refusal(document).empty());

  document = runc_default_spec();
  document["linux"]["namespaces"].erase(1);  // network
  const auto host_network = refusal(document);
  BOOST_TEST(contains(host_network, "linux.namespaces: no network namespace, so the host's network"), host_network);
  BOOST_TEST(contains(host_network, "network mode none"), host_network);

  document = runc_default_spec();
  document["linux"]["namespaces"].erase(0);  // pid
  BOOST_TEST(contains(refusal(document), "no pid namespace"));

  document = runc_default_spec();
  document["linux"]["namespaces"][1]["path"] = "/etc/netns";
  BOOST_TEST(contains(refusal(document), "only a namespace of a container of this runtime"));

  document = runc_default_spec();
  document["linux"]["devices"] = json::array({{{"path", "/dev/sda"}, {"type", "b"}}});
  BOOST_TEST(contains(refusal(document), "linux.devices: /dev/sda"));
  document["linux"]["devices"] = json::array({{{"path", "/dev/null"}, {"type", "c"}}});
  BOOST_TEST(refusal(document).empty());

  document = runc_default_spec();
  document["hooks"] = {{"prestart", json::array({{{"path", "/bin/true"}}})}};
  BOOST_TEST(contains(refusal(document), "hooks.prestart: OCI hooks are not supported"));

  // podman binds a /dev/shm of its own: tierbox's takes its place; a host
  // bind anywhere else below /dev, /proc or /sys is refused.
  document = runc_default_spec();
  document["mounts"].push_back({{"destination", "/dev/shm"}, {"type", "bind"}, {"source", "/var/lib/c/shm"}, {"options", {"rbind"}}});
  BOOST_TEST(refusal(document).empty());
  document["mounts"].push_back({{"destination", "/sys/kernel/debug"}, {"type", "bind"}, {"source", "/sys/kernel/debug"}});
  BOOST_TEST(contains(refusal(document), "mounts[6] (/sys/kernel/debug): a host bind below /proc, /dev or /sys"));

  document = runc_default_spec();
  document["mounts"].push_back({{"destination", "/mnt"}, {"type", "nfs"}, {"source", "server:/x"}});
  BOOST_TEST(contains(refusal(document), "mounts[5] (/mnt).type \"nfs\""));
}

// A pod's containers join the pod sandbox's namespaces by path: network,
// ipc and uts of a container (/proc/PID/ns/TYPE) or the engine's network
// namespace (/run/netns/NAME) are classified for oci/pod.h to resolve;
// everything else is refused here, with the field.
BOOST_AUTO_TEST_CASE(namespace_paths_are_classified_or_refused) {
  const auto untrusted = policy::load_tier("untrusted", {kShipped});
  const auto classify = [&](const std::string& type, const std::string& path) {
    return oci::classify_namespace_path({type, path}, untrusted);
  };
  const auto refused = [&](const std::string& type, const std::string& path, const policy::Profile* tier = nullptr) {
    try {
      (void)oci::classify_namespace_path({type, path}, tier ? *tier : untrusted);
    } catch (const Refusal& error) {
      const std::string text = error.what();
      BOOST_TEST(contains(text, "linux.namespaces (" + type + ").path \"" + path + "\""), text);
      BOOST_TEST(text.find('\n') == std::string::npos);
      return text;
    }
    return std::string();
  };
  // Controls: what a pod's application container gives (containerd's CRI).
  auto join = classify("ipc", "/proc/4242/ns/ipc");
  BOOST_TEST((join.kind == oci::NamespaceJoin::Kind::container));
  BOOST_TEST(join.pid == 4242);
  BOOST_TEST(classify("uts", "/proc/7/ns/uts").pid == 7);
  BOOST_TEST(classify("network", "/proc/7/ns/net").pid == 7);
  BOOST_TEST((classify("network", "/var/run/netns/cni-1234").kind == oci::NamespaceJoin::Kind::engine_network));
  BOOST_TEST((classify("network", "/run/netns/cni-1234").kind == oci::NamespaceJoin::Kind::engine_network));

  BOOST_TEST(contains(refused("user", "/proc/4242/ns/user"), "never allowed"));
  BOOST_TEST(contains(refused("mount", "/proc/4242/ns/mnt"), "never allowed"));
  BOOST_TEST(contains(refused("cgroup", "/proc/4242/ns/cgroup"), "never allowed"));
  BOOST_TEST(contains(refused("pid", "/proc/4242/ns/pid"), "sharing a process namespace is not supported"));
  // A path of another shape, or of another type than the namespace's.
  BOOST_TEST(contains(refused("ipc", "/proc/4242/ns/net"), "only a namespace of a container"));
  BOOST_TEST(contains(refused("ipc", "/run/netns/cni-1"), "only a namespace of a container"));
  BOOST_TEST(contains(refused("network", "/proc/self/ns/net"), "only a namespace of a container"));
  BOOST_TEST(contains(refused("network", "/proc/1/ns/../../1/ns/net"), "only a namespace of a container"));
  BOOST_TEST(contains(refused("network", "/run/netns/../../proc/1/ns/net"), "only a namespace of a container"));
  BOOST_TEST(contains(refused("network", "/run/netns/"), "only a namespace of a container"));
  BOOST_TEST(contains(refused("network", "/tmp/netns/cni-1"), "only a namespace of a container"));
  // An allowlist tier's pod: the engine's namespace is classified like
  // mode none's (never entered: oci/pod.h gives the pod sandbox the tier's
  // own network instead).
  const auto networked = policy::load_tier("networked", {kShipped});
  BOOST_TEST((oci::classify_namespace_path({"network", "/run/netns/cni-1"}, networked).kind ==
              oci::NamespaceJoin::Kind::engine_network));
  // The bundle's refusal names the field; a joined namespace counts as the
  // container's own network (no host network refusal).
  auto document = runc_default_spec();
  document["linux"]["namespaces"][0] = {{"type", "pid"}, {"path", "/proc/9/ns/pid"}};
  BOOST_TEST(contains(refusal(document), "linux.namespaces (pid).path"));
  document = runc_default_spec();
  document["linux"]["namespaces"][1]["path"] = "/run/netns/cni-9";
  document["linux"]["namespaces"][2]["path"] = "/proc/9/ns/ipc";
  const auto narrowed = oci::narrow_to_tier(spec_of(document), untrusted, "/b", "c1", "sha256:00");
  BOOST_REQUIRE(narrowed.joins.size() == 2);
  BOOST_TEST(narrowed.joins[0].type == "network");
  BOOST_TEST(narrowed.joins[1].pid == 9);
}

BOOST_AUTO_TEST_CASE(limits_never_rise_above_the_tier) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  auto document = runc_default_spec();
  document["linux"]["resources"]["memory"]["limit"] = 4LL << 30;
  document["linux"]["resources"]["pids"]["limit"] = 2048;  // podman's default
  document["linux"]["resources"]["cpu"] = {{"quota", 400000}, {"period", 100000}};
  const auto narrowed = oci::narrow_to_tier(spec_of(document), profile, "/b", "c1", "sha256:00");
  // Nothing asked of the planner: the tier's 512M, 128 pids and 1 CPU stay.
  BOOST_TEST(!narrowed.request.memory);
  BOOST_TEST(!narrowed.request.pids);
  BOOST_TEST(!narrowed.request.cpu_millicores);
  const auto noted = [&](const std::string& part) {
    return std::any_of(narrowed.notes.begin(), narrowed.notes.end(), [&](const auto& note) { return contains(note, part); });
  };
  BOOST_TEST(noted("linux.resources.memory.limit 4G: above tier 'untrusted' limits.memory; the tier's 512M applies"));
  BOOST_TEST(noted("linux.resources.pids.limit 2048"));
  BOOST_TEST(noted("linux.resources.cpu.quota 4000m CPU"));
  // Below the tier: narrowed.
  document["linux"]["resources"]["cpu"] = {{"quota", 50000}, {"period", 100000}};
  BOOST_TEST(*oci::narrow_to_tier(spec_of(document), profile, "/b", "c1", "sha256:00").request.cpu_millicores == 500u);
}

BOOST_AUTO_TEST_CASE(a_container_root_replaces_the_tiers_host_binds) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto narrowed = oci::narrow_to_tier(spec_of(runc_default_spec()), profile, "/b", "c1", "sha256:00");
  policy::HostFacts facts;
  facts.landlock_abi = 7;
  facts.rootfs_image = policy::RootfsImageFacts{
      "container:c1", "sha256:00", "/b/rootfs", {{"bin", rootfs::EntryKind::directory, ""}}, {}};
  const auto plan = policy::make_plan(profile, narrowed.request, facts, "r1");
  BOOST_REQUIRE(plan.rootfs_image);
  BOOST_TEST(plan.rootfs_image->name == "container:c1");
  BOOST_TEST(plan.rootfs_image->digest == "sha256:00");
  BOOST_TEST(plan.hostname == "box");
  BOOST_TEST(plan.cwd == "/");
  // The container's /bin is bound; the tier's host /usr is not.
  const auto has_target = [&](const std::string& target) {
    return std::any_of(plan.mount_ops.begin(), plan.mount_ops.end(), [&](const auto& op) { return op.target == target; });
  };
  BOOST_TEST(has_target("bin"));
  BOOST_TEST(!has_target("usr"));
  BOOST_TEST(std::none_of(plan.prepared_mounts.begin(), plan.prepared_mounts.end(),
                          [](const auto& prepared) { return prepared.source == "/usr"; }));
  // The hostname reaches /etc/hostname too.
  BOOST_TEST(std::any_of(plan.mount_ops.begin(), plan.mount_ops.end(),
                         [](const auto& op) { return op.target == "etc/hostname" && op.data == "box\n"; }));
  // Narrowed limits are in force.
  BOOST_TEST(*plan.cgroup_limits.memory.value == 268435456u);
}

// A pod's container: the joined namespaces reach the plan, its digest and
// the summary. Under an allowlist tier a container joining the pod
// sandbox's network keeps the allowlist's /etc files (the resolver on the
// shared lo) and its egress plan, whose rules the sandbox's run enforces.
BOOST_AUTO_TEST_CASE(joined_namespaces_reach_the_plan_and_its_digest) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  auto narrowed = oci::narrow_to_tier(spec_of(runc_default_spec()), profile, "/b", "c1", "sha256:00");
  policy::HostFacts facts;
  facts.landlock_abi = 7;
  facts.rootfs_image = policy::RootfsImageFacts{
      "container:c1", "sha256:00", "/b/rootfs", {{"bin", rootfs::EntryKind::directory, ""}}, {}};
  const auto alone = policy::make_plan(profile, narrowed.request, facts, "r1");
  BOOST_TEST(alone.joined_namespaces.empty());
  narrowed.request.container->joins = {{CLONE_NEWIPC, "/proc/42/ns/ipc", 4, 4026531839, "container sb"},
                                       {CLONE_NEWNET, "/proc/42/ns/net", 4, 4026531840, "container sb"}};
  const auto joined = policy::make_plan(profile, narrowed.request, facts, "r1");
  BOOST_REQUIRE(joined.joined_namespaces.size() == 2u);
  BOOST_TEST(policy::joins_namespace(joined, CLONE_NEWNET));
  BOOST_TEST(!policy::joins_namespace(joined, CLONE_NEWUTS));
  BOOST_TEST(policy::plan_digest(joined) != policy::plan_digest(alone));
  BOOST_TEST(policy::plan_summary(joined).at("joined_namespaces").at(0).at("owner") == "container sb");
  BOOST_TEST(!policy::plan_summary(alone).contains("joined_namespaces"));  // other digests stay as they were

  const auto networked = policy::load_tier("networked", {kShipped});
  const auto pod_member = policy::make_plan(networked, narrowed.request, facts, "r2");
  BOOST_TEST((pod_member.network == policy::NetworkMode::allowlist));
  BOOST_TEST(policy::joins_namespace(pod_member, CLONE_NEWNET));
  BOOST_REQUIRE(pod_member.egress.has_value());
  BOOST_TEST(std::any_of(pod_member.mount_ops.begin(), pod_member.mount_ops.end(), [](const auto& op) {
    return op.target == "etc/resolv.conf" && op.data.find("nameserver 127.0.0.53") != std::string::npos;
  }));
}

// exec's process object: the container's capability rule, the task's user
// (0 or the tier's), the environment through the tier's rules.
BOOST_AUTO_TEST_CASE(an_exec_process_is_narrowed_like_the_container) {
  const auto profile = policy::load_tier("untrusted", {kShipped});
  const auto narrow = [&](const json& process) {
    return oci::narrow_exec(oci::parse_exec_process(process, "process.json"), profile);
  };
  const auto refused = [&](const json& process) {
    try {
      (void)narrow(process);
    } catch (const Refusal& error) {
      BOOST_TEST(error.exit_status() == 126);
      return std::string(error.what());
    }
    return std::string();
  };
  json process = {{"args", {"sh"}}, {"cwd", "/tmp"}, {"env", {"PATH=/bin", "LD_PRELOAD=/x.so", "TERM=xterm"}},
                  {"user", {{"uid", 0}, {"gid", 0}}},
                  {"capabilities", {{"bounding", {"CAP_KILL", "CAP_CHOWN"}}}}};
  const auto control = narrow(process);
  BOOST_TEST(control.argv == std::vector<std::string>{"sh"}, boost::test_tools::per_element());
  BOOST_TEST(control.cwd == "/tmp");
  const auto has_env = [&](const std::string& entry) {
    return std::find(control.env.begin(), control.env.end(), entry) != control.env.end();
  };
  BOOST_TEST(!std::any_of(control.env.begin(), control.env.end(),
                          [](const auto& entry) { return entry.rfind("LD_PRELOAD=", 0) == 0; }));
  BOOST_TEST(has_env("TERM=xterm"));
  process["user"] = {{"uid", 1000}, {"gid", 1000}};  // the tier's
  BOOST_TEST(refused(process).empty());

  auto asking = process;
  asking["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
  BOOST_TEST(contains(refused(asking), "CAP_SYS_ADMIN: the process is privileged"));
  asking = process;
  asking["capabilities"]["ambient"] = {"CAP_NET_ADMIN"};
  BOOST_TEST(contains(refused(asking), "process.capabilities: CAP_NET_ADMIN is an added capability"));
  asking = process;
  asking["user"] = {{"uid", 0}, {"gid", 27}};
  BOOST_TEST(contains(refused(asking), "process.user.gid 27"));
  asking = process;
  asking["user"] = {{"uid", 33}};
  BOOST_TEST(contains(refused(asking), "process.user.uid 33: tier 'untrusted' runs its tasks as uid 1000"));
  // Bad input names the file and field.
  asking = process;
  asking["args"] = json::array();
  try {
    (void)narrow(asking);
    BOOST_FAIL("empty args accepted");
  } catch (const Error& error) {
    BOOST_TEST(contains(error.what(), "process.json: process.args: empty"), error.what());
  }
}

BOOST_AUTO_TEST_CASE(process_rlimits_only_lower_the_tiers) {
  const auto profile = policy::load_tier("untrusted", {kShipped});  // nofile 256, fsize 1G
  auto document = runc_default_spec();
  document["process"]["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", 1048576}},
                                                {{"type", "RLIMIT_FSIZE"}, {"soft", 4096}, {"hard", 8192}},
                                                {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 0}},
                                                {{"type", "RLIMIT_MEMLOCK"}, {"soft", 1}, {"hard", 1}}});
  const auto narrowed = oci::narrow_to_tier(spec_of(document), profile, "/b", "c1", "sha256:00");
  BOOST_TEST(std::any_of(narrowed.notes.begin(), narrowed.notes.end(),
                         [](const auto& note) { return contains(note, "RLIMIT_MEMLOCK not applied"); }));
  policy::HostFacts facts;
  facts.landlock_abi = 7;
  facts.rootfs_image = policy::RootfsImageFacts{"container:c1", "sha256:00", "/b/rootfs", {}, {}};
  const auto plan = policy::make_plan(profile, narrowed.request, facts, "r1");
  const auto limit_of = [&](int resource) {
    const auto it = std::find_if(plan.rlimits.begin(), plan.rlimits.end(),
                                 [&](const auto& setting) { return setting.resource == resource; });
    BOOST_REQUIRE(it != plan.rlimits.end());
    return std::make_pair(it->soft, it->hard);
  };
  BOOST_TEST(limit_of(RLIMIT_NOFILE).first == 256u);  // the bundle's 1024/1048576 never raise the tier's
  BOOST_TEST(limit_of(RLIMIT_NOFILE).second == 256u);
  BOOST_TEST(limit_of(RLIMIT_FSIZE).first == 4096u);  // lowered
  BOOST_TEST(limit_of(RLIMIT_FSIZE).second == 8192u);
  BOOST_TEST(limit_of(RLIMIT_CORE).second == 0u);     // added: the tier sets none
  auto bad = runc_default_spec();
  bad["process"]["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 5}}});
  BOOST_TEST(contains(parse_error(bad), "process.rlimits[0]: soft above hard"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(oci_state)

BOOST_AUTO_TEST_CASE(state_json_has_the_specifications_fields) {
  oci::ContainerState state;
  state.id = "c1";
  state.bundle = "/b";
  state.status = "stopped";
  state.pid = 4242;
  state.annotations = {{"io.tierbox.tier", "untrusted"}};
  const auto document = oci::to_oci_state(state);
  BOOST_TEST(document.at("ociVersion") == oci::kOciVersion);
  BOOST_TEST(document.at("id") == "c1");
  BOOST_TEST(document.at("status") == "stopped");
  BOOST_TEST(document.at("bundle") == "/b");
  BOOST_TEST(document.at("pid") == 0);  // stopped: no process
  BOOST_TEST(document.at("annotations").at("io.tierbox.tier") == "untrusted");
  // A recorded "running" whose supervisor is gone reads as stopped.
  state.status = "running";
  state.pid = 0;
  BOOST_TEST(oci::current_status(state) == "stopped");
  // Round trip of what tierbox keeps.
  state.exit_status = 3;
  state.engine_netns = "/run/netns/cni-1";
  const auto back = oci::state_from_json(oci::to_json(state), "x");
  BOOST_TEST(back.id == "c1");
  BOOST_TEST(*back.exit_status == 3);
  BOOST_TEST(back.engine_netns == "/run/netns/cni-1");
  // paused: while its supervisor lives (this process stands for it), with its pid.
  state.status = "paused";
  state.pid = ::getpid();
  state.pid_start_time = *process_start_time(::getpid());
  BOOST_TEST(oci::to_oci_state(state).at("status") == "paused");
  BOOST_TEST(oci::to_oci_state(state).at("pid") == ::getpid());
}

BOOST_AUTO_TEST_CASE(container_ids_name_one_directory) {
  BOOST_TEST(oci::valid_container_id("abc-1_2.x"));
  BOOST_TEST(!oci::valid_container_id(""));
  BOOST_TEST(!oci::valid_container_id(".."));
  BOOST_TEST(!oci::valid_container_id("a/b"));
  BOOST_TEST(!oci::valid_container_id(".hidden"));
  // One directory name (NAME_MAX), not a path.
  BOOST_TEST(oci::valid_container_id(std::string(255, 'a')));
  BOOST_TEST(!oci::valid_container_id(std::string(256, 'a')));
  BOOST_TEST(!oci::valid_container_id("../x"));
  BOOST_TEST(!oci::valid_container_id("/x"));
}

// What a bind takes with it: every mount point below its source, from
// /proc/self/mountinfo (escapes undone; "/ab" is not below "/a").
BOOST_AUTO_TEST_CASE(mount_points_below_a_bind_source) {
  const std::string mountinfo =
      "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /sys/fs/cgroupx rw - tmpfs tmpfs rw\n"
      "34 22 0:31 / /srv/with\\040space/proc rw - proc proc rw\n";
  BOOST_TEST(mount_points_below(mountinfo, "/sys/fs/cgroup") == std::vector<std::string>{"/sys/fs/cgroup/cpu"});
  BOOST_TEST(mount_points_below(mountinfo, "/srv") == std::vector<std::string>{"/srv/with space/proc"});
  BOOST_TEST(mount_points_below(mountinfo, "/sys/fs/cgroup/cpu").empty());
  BOOST_TEST(mount_points_below(mountinfo, "/").size() == 4u);
  BOOST_TEST(mount_points_below("", "/").empty());
}

BOOST_AUTO_TEST_CASE(audit_records_name_the_container) {
  audit::RunContext context;
  context.run_id = "r1";
  BOOST_TEST(!audit::base_record("start", context).contains("container"));
  context.container_id = "c1";
  context.image_digest = "sha256:ab";
  const auto record = audit::base_record("start", context);
  BOOST_TEST(record.at("container").at("id") == "c1");
  BOOST_TEST(record.at("container").at("image_digest") == "sha256:ab");
}

BOOST_AUTO_TEST_SUITE_END()
