// A Kubernetes pod's container (docs/kubernetes.md): the pure parts. The
// engine's termination-message file (a bind of a file directly in /dev)
// becomes the plan's termination message under every tier, at most one; the
// service-account token is a request bind refused with the fix under a tier
// without binds; a mount target nested below an image directory keeps the
// image's other entries there (the directory's entries placed one by one),
// and never follows an image symlink on the way.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "common/errors.h"
#include "oci/spec.h"
#include "policy/plan_summary.h"
#include "policy/planner.h"
#include "policy/profile_loader.h"
#include "profile_text.h"

using namespace tierbox;
using namespace tierbox::testing;
using nlohmann::json;

namespace {

constexpr const char* kTokenTarget = "/var/run/secrets/kubernetes.io/serviceaccount";

// What containerd's CRI gives a pod's application container (trimmed).
json pod_container_spec(bool with_token = true) {
  auto document = json::parse(R"({
    "ociVersion": "1.1.0",
    "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo hi"],
                "env": ["PATH=/usr/bin:/bin"], "cwd": "/"},
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "pod",
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
      {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
      {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance"]},
      {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
      {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
      {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
      {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/kubelet/pods/u1/etc-hosts", "options": ["rbind", "rprivate", "rw"]},
      {"destination": "/dev/termination-log", "type": "bind", "source": "/var/lib/kubelet/pods/u1/containers/app/0a1b", "options": ["rbind", "rprivate", "rw"]},
      {"destination": "/etc/hostname", "type": "bind", "source": "/var/lib/containerd/sb/hostname", "options": ["rbind", "rprivate", "rw"]},
      {"destination": "/etc/resolv.conf", "type": "bind", "source": "/var/lib/containerd/sb/resolv.conf", "options": ["rbind", "rprivate", "rw"]},
      {"destination": "/dev/shm", "type": "bind", "source": "/run/containerd/sb/shm", "options": ["rbind", "rprivate", "rw"]}
    ],
    "annotations": {"io.kubernetes.cri.container-type": "container", "io.tierbox.tier": "untrusted"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
  })");
  if (with_token)
    document["mounts"].push_back({{"destination", kTokenTarget},
                                  {"type", "bind"},
                                  {"source", "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access"},
                                  {"options", {"rbind", "rprivate", "ro"}}});
  return document;
}

oci::Narrowed narrow(const json& document, const policy::Profile& tier) {
  return oci::narrow_to_tier(oci::parse_spec(document, "/b/config.json"), tier, "/b", "c1", "sha256:00");
}

std::string refusal(const json& document, const policy::Profile& tier) {
  try {
    (void)narrow(document, tier);
  } catch (const Refusal& error) {
    const std::string text = error.what();
    BOOST_TEST(text.find('\n') == std::string::npos);
    return text;
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

policy::Profile tier_with_binds() {
  auto tier = policy::load_tier("untrusted", {kShipped});
  tier.widening.binds = policy::BindWidening::read_only;
  return tier;
}

using Kind = rootfs::EntryKind;

// An image with /bin, /etc, /run and a /var holding cache/, lib/ (with
// dpkg/ and app/) and the Debian symlink run -> /run.
policy::HostFacts image_facts(bool run_is_symlink = true) {
  policy::HostFacts facts;
  facts.landlock_abi = 7;
  facts.rootfs_image = policy::RootfsImageFacts{"container:c1",
                                                "sha256:00",
                                                "/b/rootfs",
                                                {{"bin", Kind::directory, ""},
                                                 {"etc", Kind::directory, ""},
                                                 {"run", Kind::directory, ""},
                                                 {"var", Kind::directory, ""}},
                                                {{"os-release", Kind::file, ""}}};
  auto& nested = facts.rootfs_image->nested;
  nested["var"] = {{"cache", Kind::directory, ""},
                   {"lib", Kind::directory, ""},
                   {"log", Kind::directory, ""},
                   run_is_symlink ? policy::ImageEntryFacts{"run", Kind::symlink, "/run"}
                                  : policy::ImageEntryFacts{"run", Kind::directory, ""}};
  nested["var/lib"] = {{"app", Kind::directory, ""}, {"dpkg", Kind::directory, ""}, {"motd", Kind::file, ""}};
  if (!run_is_symlink) nested["var/run"] = {{"lock", Kind::directory, ""}};
  return facts;
}

const policy::MountOp* op_at(const policy::LaunchPlan& plan, const std::string& target) {
  const auto found = std::find_if(plan.mount_ops.begin(), plan.mount_ops.end(),
                                  [&](const auto& op) { return op.target == target; });
  return found == plan.mount_ops.end() ? nullptr : &*found;
}

std::string source_at(const policy::LaunchPlan& plan, const std::string& target) {
  const auto* op = op_at(plan, target);
  if (!op || op->kind != policy::MountOp::Kind::attach_prepared) return "";
  return plan.prepared_mounts[static_cast<std::size_t>(op->prepared)].source;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_kubernetes)

// The kubelet's /dev/termination-log, under untrusted (no binds at all):
// the plan's termination message, never a host bind; its summary and digest
// say so; a plan without one has no such key (other digests stay).
BOOST_AUTO_TEST_CASE(the_termination_log_is_the_plans_own_file_under_every_tier) {
  const auto untrusted = policy::load_tier("untrusted", {kShipped});
  const auto narrowed = narrow(pod_container_spec(false), untrusted);
  BOOST_TEST(narrowed.request.binds.empty());
  BOOST_REQUIRE(narrowed.request.container->termination_message.has_value());
  const auto& message = *narrowed.request.container->termination_message;
  BOOST_TEST(message.target == "/dev/termination-log");
  BOOST_TEST(message.engine_file == "/var/lib/kubelet/pods/u1/containers/app/0a1b");
  auto request = narrowed.request;
  request.container->termination_message->engine_fd = 9;
  const auto plan = policy::make_plan(untrusted, request, image_facts(), "r1");
  BOOST_REQUIRE(plan.termination_message.has_value());
  BOOST_TEST(plan.termination_message->size_bytes == 4096u);
  BOOST_TEST(plan.termination_message->engine_fd == 9);
  const auto* op = op_at(plan, "dev/termination-log");
  BOOST_REQUIRE(op);
  BOOST_TEST((op->kind == policy::MountOp::Kind::attach_prepared));
  const auto& prepared = plan.prepared_mounts[static_cast<std::size_t>(op->prepared)];
  BOOST_TEST((prepared.kind == policy::PreparedMount::Kind::termination_message));
  BOOST_TEST(prepared.source.empty());  // no host path is ever opened for it
  // After /dev is made, before /proc.
  BOOST_REQUIRE(op_at(plan, "dev") && op_at(plan, "proc"));
  const auto index = [&](const std::string& target) { return op_at(plan, target) - plan.mount_ops.data(); };
  BOOST_TEST(index("dev") < index("dev/termination-log"));
  BOOST_TEST(index("dev/termination-log") < index("proc"));
  const auto summary = policy::plan_summary(plan);
  BOOST_TEST(summary.at("termination_message").at("target") == "/dev/termination-log");
  BOOST_TEST(summary.at("binds").dump().find("termination") == std::string::npos);
  const auto lines = policy::plan_summary_lines(plan);
  BOOST_TEST(std::any_of(lines.begin(), lines.end(), [](const auto& line) {
    return line == "termination message: /dev/termination-log (4096 bytes, copied to the engine's file at the end)";
  }));
  // Without it: no key, and a different digest.
  auto without = request;
  without.container->termination_message.reset();
  const auto plain = policy::make_plan(untrusted, without, image_facts(), "r1");
  BOOST_TEST(!policy::plan_summary(plain).contains("termination_message"));
  BOOST_TEST(!op_at(plain, "dev/termination-log"));
  BOOST_TEST(policy::plan_digest(plain) != policy::plan_digest(plan));
}

// At most one; tierbox's own /dev entries and deeper /dev paths stay
// refused as host binds; a relative source is refused.
BOOST_AUTO_TEST_CASE(only_one_termination_file_and_never_over_tierboxs_own) {
  const auto untrusted = policy::load_tier("untrusted", {kShipped});
  auto twice = pod_container_spec(false);
  twice["mounts"].push_back({{"destination", "/dev/other-log"}, {"type", "bind"}, {"source", "/srv/f"}, {"options", {"rbind"}}});
  const auto second = refusal(twice, untrusted);
  BOOST_TEST(contains(second, "mounts[11] (/dev/other-log): a second termination-message file (the first: "
                              "/dev/termination-log)"), second);
  BOOST_TEST(contains(second, "fix: leave one out"), second);
  for (const char* own : {"/dev/null", "/dev/tty", "/dev/ptmx", "/dev/mqueue", "/dev/fd", "/dev/stdout", "/dev/console"}) {
    auto document = pod_container_spec(false);
    document["mounts"].push_back({{"destination", own}, {"type", "bind"}, {"source", "/srv/f"}});
    BOOST_TEST(contains(refusal(document, untrusted), "a host bind below /proc, /dev or /sys"), own);
  }
  auto deeper = pod_container_spec(false);
  deeper["mounts"].push_back({{"destination", "/dev/x/log"}, {"type", "bind"}, {"source", "/srv/f"}});
  BOOST_TEST(contains(refusal(deeper, untrusted), "a host bind below /proc, /dev or /sys"));
  auto relative = pod_container_spec(false);
  relative["mounts"][7]["source"] = "containers/app/0a1b";
  BOOST_TEST(contains(refusal(relative, untrusted), "mounts[7] (/dev/termination-log).source \"containers/app/0a1b\": "
                                                    "not an absolute host path"));
}

// The token under a tier without binds: refused with the fix a pod's author
// applies. Control: under a tier with read-only binds it is a bind.
BOOST_AUTO_TEST_CASE(the_service_account_token_needs_a_tier_with_binds) {
  const auto untrusted = policy::load_tier("untrusted", {kShipped});
  const auto refused = refusal(pod_container_spec(), untrusted);
  BOOST_TEST(contains(refused, std::string("mounts[11] (") + kTokenTarget + "): the pod's service-account token"), refused);
  BOOST_TEST(contains(refused, "automountServiceAccountToken: false"), refused);
  BOOST_TEST(contains(refused, "widening.binds"), refused);
  const auto narrowed = narrow(pod_container_spec(), tier_with_binds());
  BOOST_REQUIRE(narrowed.request.binds.size() == 1u);
  BOOST_TEST(narrowed.request.binds[0].target == kTokenTarget);
  BOOST_TEST(!narrowed.request.binds[0].writable);
  // Without the token the same pod container runs under untrusted.
  BOOST_TEST(refusal(pod_container_spec(false), untrusted).empty());
}

// The token at /var/run/secrets/...: the image's /var stays (its entries
// placed one by one), /var/run (a symlink to /run in the image) is not
// followed but made on the root tmpfs, and the image's /run stays whole.
BOOST_AUTO_TEST_CASE(a_nested_target_keeps_the_images_directory_and_follows_no_symlink) {
  const auto tier = tier_with_binds();
  const auto plan = policy::make_plan(tier, narrow(pod_container_spec(), tier).request, image_facts(), "r1");
  const auto* var = op_at(plan, "var");
  BOOST_REQUIRE(var);
  BOOST_TEST((var->kind == policy::MountOp::Kind::directory));  // not the image's whole /var
  BOOST_TEST(source_at(plan, "var/cache") == "/b/rootfs/var/cache");
  BOOST_TEST(source_at(plan, "var/lib") == "/b/rootfs/var/lib");
  BOOST_TEST(source_at(plan, "var/log") == "/b/rootfs/var/log");
  BOOST_TEST(source_at(plan, "run") == "/b/rootfs/run");
  // var/run: a directory of the root tmpfs, not the image's symlink, nothing
  // of the image reached through it.
  const auto* run = op_at(plan, "var/run");
  BOOST_REQUIRE(run);
  BOOST_TEST((run->kind == policy::MountOp::Kind::directory));
  BOOST_TEST(std::none_of(plan.prepared_mounts.begin(), plan.prepared_mounts.end(), [](const auto& prepared) {
    return prepared.source.find("/var/run") != std::string::npos;
  }));
  BOOST_TEST(source_at(plan, "var/run/secrets/kubernetes.io/serviceaccount") ==
             "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access");
  // Parents first: var's directory before its entries and the bind.
  for (const char* target : {"var", "var/cache", "var/run", "var/run/secrets/kubernetes.io/serviceaccount"})
    BOOST_REQUIRE_MESSAGE(op_at(plan, target), target);
  const auto index = [&](const std::string& target) { return op_at(plan, target) - plan.mount_ops.data(); };
  BOOST_TEST(index("var") < index("var/cache"));
  BOOST_TEST(index("var/run") < index("var/run/secrets/kubernetes.io/serviceaccount"));
}

// A volume at /var/lib/app in an image whose /var/run is a real directory:
// var/ and var/lib/ are directories holding the image's other entries
// (dpkg, motd, cache, log, run), app is the volume; the writable root's
// case places the same entries as layered trees.
BOOST_AUTO_TEST_CASE(a_volume_below_image_directories_keeps_their_other_entries) {
  auto tier = tier_with_binds();
  auto document = pod_container_spec(false);
  document["mounts"].push_back({{"destination", "/var/lib/app"}, {"type", "bind"}, {"source", "/srv/app"}, {"options", {"rbind", "ro"}}});
  auto narrowed = narrow(document, tier);
  const auto plan = policy::make_plan(tier, narrowed.request, image_facts(false), "r1");
  BOOST_TEST((op_at(plan, "var")->kind == policy::MountOp::Kind::directory));
  BOOST_TEST((op_at(plan, "var/lib")->kind == policy::MountOp::Kind::directory));
  BOOST_TEST(source_at(plan, "var/lib/dpkg") == "/b/rootfs/var/lib/dpkg");
  BOOST_TEST(source_at(plan, "var/lib/motd") == "/b/rootfs/var/lib/motd");
  BOOST_TEST(source_at(plan, "var/run") == "/b/rootfs/var/run");  // a real directory: the image's, whole
  BOOST_TEST(source_at(plan, "var/lib/app") == "/srv/app");
  BOOST_TEST(std::none_of(plan.prepared_mounts.begin(), plan.prepared_mounts.end(), [](const auto& prepared) {
    return prepared.source == "/b/rootfs/var" || prepared.source == "/b/rootfs/var/lib" ||
           prepared.source == "/b/rootfs/var/lib/app";
  }));
  // The writable root: the same layout, each image directory layered.
  tier.container.writable_root = true;
  tier.limits.disk.value = 8u << 20;
  narrowed.request.container->writable = true;
  const auto layered = policy::make_plan(tier, narrowed.request, image_facts(false), "r1");
  BOOST_REQUIRE(layered.root_layer.has_value());
  const auto layered_at = [&](const std::string& target) {
    const auto* op = op_at(layered, target);
    return op && op->kind == policy::MountOp::Kind::attach_prepared &&
           layered.prepared_mounts[static_cast<std::size_t>(op->prepared)].layered;
  };
  BOOST_TEST(layered_at("var/lib/dpkg"));
  BOOST_TEST(layered_at("var/cache"));
  BOOST_TEST(!layered_at("var/lib/motd"));  // a file: as at the top
  BOOST_TEST(!layered_at("var/lib/app"));   // the volume
}

// Nothing nested: the layout is what it was (the shipped plans' digests
// check the same for every shipped tier, tests/unit/test_shipped_plans.cpp).
BOOST_AUTO_TEST_CASE(a_top_level_target_takes_the_whole_directory_as_before) {
  auto tier = tier_with_binds();
  auto document = pod_container_spec(false);
  document["mounts"].push_back({{"destination", "/var"}, {"type", "bind"}, {"source", "/srv/var"}, {"options", {"rbind", "ro"}}});
  const auto plan = policy::make_plan(tier, narrow(document, tier).request, image_facts(), "r1");
  BOOST_TEST(source_at(plan, "var") == "/srv/var");
  BOOST_TEST(!op_at(plan, "var/cache"));
}

BOOST_AUTO_TEST_SUITE_END()
