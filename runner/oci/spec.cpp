#include "oci/spec.h"

#include <sys/resource.h>

#include <algorithm>
#include <set>

#include "common/errors.h"
#include "common/units.h"
#include "oci/limit_ceiling.h"
#include "policy/environment.h"
#include "policy/path_pattern.h"

namespace tierbox::oci {
namespace {

using nlohmann::json;

class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem, const std::string& fix) const {
    throw Error(origin_ + ": " + field + ": " + problem + " (fix: " + fix + ")", exit_code::runner_failed);
  }

  std::string string_at(const json& object, const char* key, const std::string& field, bool required = false) const {
    const auto it = object.find(key);
    if (it == object.end()) {
      if (required) fail(field, "missing", "give it, as the OCI runtime specification says");
      return "";
    }
    if (!it->is_string()) fail(field, "not a string", "make it a JSON string");
    return it->get<std::string>();
  }

  std::vector<std::string> strings_at(const json& object, const char* key, const std::string& field) const {
    std::vector<std::string> out;
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return out;
    if (!it->is_array()) fail(field, "not an array", "make it a JSON array of strings");
    for (std::size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) fail(field + "[" + std::to_string(i) + "]", "not a string", "make it a JSON string");
      out.push_back((*it)[i].get<std::string>());
    }
    return out;
  }

  const json* object_at(const json& object, const char* key, const std::string& field) const {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    if (!it->is_object()) fail(field, "not an object", "make it a JSON object");
    return &*it;
  }

  template <typename T>
  std::optional<T> number_at(const json& object, const char* key, const std::string& field) const {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) fail(field, "not an integer", "make it a JSON integer");
    return it->get<T>();
  }

 private:
  std::string origin_;
};

bool valid_hostname(const std::string& name) {
  if (name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

void parse_process(const Reader& reader, const json& process, Spec& spec) {
  spec.args = reader.strings_at(process, "args", "process.args");
  if (spec.args.empty()) reader.fail("process.args", "empty", "name the command the container runs");
  spec.env = reader.strings_at(process, "env", "process.env");
  spec.cwd = reader.string_at(process, "cwd", "process.cwd", true);
  if (spec.cwd.empty() || spec.cwd.front() != '/') reader.fail("process.cwd", "not an absolute path", "give an absolute path");
  if (const auto it = process.find("terminal"); it != process.end()) {
    if (!it->is_boolean()) reader.fail("process.terminal", "not a boolean", "true or false");
    spec.terminal = it->get<bool>();
  }
  if (const auto it = process.find("rlimits"); it != process.end() && !it->is_null()) {
    if (!it->is_array()) reader.fail("process.rlimits", "not an array", "make it a JSON array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto field = "process.rlimits[" + std::to_string(i) + "]";
      if (!(*it)[i].is_object()) reader.fail(field, "not an object", "{\"type\": \"RLIMIT_NOFILE\", \"soft\": N, \"hard\": N}");
      const auto soft = reader.number_at<std::uint64_t>((*it)[i], "soft", field + ".soft");
      const auto hard = reader.number_at<std::uint64_t>((*it)[i], "hard", field + ".hard");
      if (!soft || !hard) reader.fail(field, "soft and hard are required", "give both");
      if (*soft > *hard) reader.fail(field, "soft above hard", "make soft at most hard");
      spec.rlimits.push_back({reader.string_at((*it)[i], "type", field + ".type", true), *soft, *hard});
    }
  }
  if (const auto* capabilities = reader.object_at(process, "capabilities", "process.capabilities")) {
    std::set<std::string> all;
    for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"})
      for (auto& name : reader.strings_at(*capabilities, set, std::string("process.capabilities.") + set)) all.insert(name);
    spec.capabilities.assign(all.begin(), all.end());
  }
}

void parse_linux(const Reader& reader, const json& linux, Spec& spec) {
  if (const auto it = linux.find("namespaces"); it != linux.end() && !it->is_null()) {
    if (!it->is_array()) reader.fail("linux.namespaces", "not an array", "make it a JSON array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto field = "linux.namespaces[" + std::to_string(i) + "]";
      if (!(*it)[i].is_object()) reader.fail(field, "not an object", "{\"type\": \"pid\"}");
      spec.namespaces.push_back({reader.string_at((*it)[i], "type", field + ".type", true),
                                 reader.string_at((*it)[i], "path", field + ".path")});
    }
  }
  if (const auto it = linux.find("devices"); it != linux.end() && !it->is_null()) {
    if (!it->is_array()) reader.fail("linux.devices", "not an array", "make it a JSON array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto field = "linux.devices[" + std::to_string(i) + "]";
      if (!(*it)[i].is_object()) reader.fail(field, "not an object", "{\"path\": \"/dev/null\", ...}");
      spec.devices.push_back(reader.string_at((*it)[i], "path", field + ".path", true));
    }
  }
  const auto mappings = [&](const char* key) {
    const auto found = linux.find(key);
    return found != linux.end() && found->is_array() && !found->empty();
  };
  spec.has_uid_mappings = mappings("uidMappings") || mappings("gidMappings");
  if (const auto* resources = reader.object_at(linux, "resources", "linux.resources")) {
    if (const auto* memory = reader.object_at(*resources, "memory", "linux.resources.memory"))
      spec.memory_limit = reader.number_at<std::int64_t>(*memory, "limit", "linux.resources.memory.limit");
    if (const auto* pids = reader.object_at(*resources, "pids", "linux.resources.pids"))
      spec.pids_limit = reader.number_at<std::int64_t>(*pids, "limit", "linux.resources.pids.limit");
    if (const auto* cpu = reader.object_at(*resources, "cpu", "linux.resources.cpu")) {
      spec.cpu_quota = reader.number_at<std::int64_t>(*cpu, "quota", "linux.resources.cpu.quota");
      spec.cpu_period = reader.number_at<std::uint64_t>(*cpu, "period", "linux.resources.cpu.period");
    }
  }
}

bool has(const std::vector<Namespace>& namespaces, const std::string& type) {
  return std::any_of(namespaces.begin(), namespaces.end(), [&](const auto& ns) { return ns.type == type; });
}

bool has_option(const Mount& mount, const std::string& option) {
  return std::find(mount.options.begin(), mount.options.end(), option) != mount.options.end();
}

// The capabilities container engines give by default (containerd's and
// podman's default set): tierbox tasks run without any, so these are
// dropped, which only narrows. Any other one is an added capability.
const std::set<std::string> kEngineDefaultCapabilities = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",           "CAP_MKNOD",      "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID",       "CAP_SETFCAP", "CAP_SETPCAP",         "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL",     "CAP_AUDIT_WRITE"};

// Devices tierbox gives every sandbox itself (policy/root_mounts.cpp plan_dev).
const std::set<std::string> kProvidedDevices = {"/dev/null",    "/dev/zero", "/dev/full", "/dev/random",
                                                "/dev/urandom", "/dev/tty",  "/dev/ptmx", "/dev/console"};

// Files the engine binds that tierbox writes itself into every sandbox.
const std::set<std::string> kGeneratedFiles = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv"};

// What tierbox makes in every sandbox's /dev itself (policy/root_mounts.cpp
// plan_dev): a bind to one of these names is never the engine's
// termination-message file.
const std::set<std::string> kOwnDevEntries = {"null",  "zero", "full", "random", "urandom", "tty",    "ptmx", "console",
                                              "pts",   "shm",  "fd",   "stdin",  "stdout",  "stderr", "mqueue"};

// "/dev/NAME" with NAME one component that is not tierbox's own: the engine's
// termination-message file when it is a bind (Kubernetes' /dev/termination-log).
bool is_termination_message_destination(const std::string& destination) {
  static const std::string kDev = "/dev/";
  if (!destination.starts_with(kDev)) return false;
  const auto name = destination.substr(kDev.size());
  return !name.empty() && name.find('/') == std::string::npos && !kOwnDevEntries.count(name);
}

// Kubernetes' service-account token (a projected volume the kubelet binds
// into every pod's containers unless the pod says otherwise).
bool is_service_account_destination(const std::string& destination) {
  return destination == "/var/run/secrets/kubernetes.io/serviceaccount" ||
         destination == "/run/secrets/kubernetes.io/serviceaccount";
}

// A bind is a request bind like `--bind`: the tier's widening.binds decides
// (policy/widening.cpp refuses it). The service-account token is refused
// here first, to name the fix a pod's author can apply; other binds are
// left to the planner, which names widening.binds.
void check_service_account_bind(const std::string& field, const std::string& destination, bool writable,
                                const policy::Profile& tier) {
  const auto allowed = tier.widening.binds;
  if (!is_service_account_destination(destination) || allowed == policy::BindWidening::read_write ||
      (allowed == policy::BindWidening::read_only && !writable))
    return;
  throw Refusal(field + ": the pod's service-account token; tier '" + tier.name + "' allows " +
                (allowed == policy::BindWidening::none ? "no binds" : "only read-only binds") +
                " (widening.binds is \"" + policy::to_string(allowed) +
                "\") (fix: automountServiceAccountToken: false in the pod spec, or a tier whose widening.binds allows it)");
}

void narrow_mounts(const Spec& spec, const policy::Profile& tier, Narrowed& out,
                   std::optional<policy::TerminationMessage>& termination) {
  for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& mount = spec.mounts[i];
    const auto field = "mounts[" + std::to_string(i) + "] (" + mount.destination + ")";
    const bool bind = mount.type == "bind" || has_option(mount, "bind") || has_option(mount, "rbind");
    if (policy::is_same_or_under(mount.destination, "/proc") || policy::is_same_or_under(mount.destination, "/dev") ||
        policy::is_same_or_under(mount.destination, "/sys")) {
      // tierbox's own /proc, /dev, /dev/pts and /dev/shm (podman binds a
      // /dev/shm of its own: tierbox's tmpfs takes its place).
      if (mount.destination == "/proc" || mount.destination == "/dev" || mount.destination == "/dev/pts" ||
          mount.destination == "/dev/shm") {
        if (bind) out.notes.push_back(field + ": tierbox gives its own");
        continue;
      }
      // The engine's output channel, like its stdout, under every tier: the
      // task gets a file of its own there, never the host's
      // (policy::TerminationMessagePlan); its content is copied back at the end.
      // A read-only bind is never it (the kubelet's is writable): the runner
      // would write into what config.json asked to keep read-only.
      if (bind && is_termination_message_destination(mount.destination) && !has_option(mount, "ro")) {
        if (termination)
          throw Refusal(field + ": a second termination-message file (the first: " + termination->target +
                        "); tier '" + tier.name + "' takes one per container (fix: leave one out)");
        if (mount.source.empty() || mount.source.front() != '/')
          throw Refusal(field + ".source " + quote(mount.source) + ": not an absolute host path (fix: give one)");
        termination = policy::TerminationMessage{mount.destination, mount.source, -1};
        out.notes.push_back(field + ": the termination-message file: the task writes a file of its own (at most " +
                            std::to_string(policy::kTerminationMessageBytes) +
                            " bytes), copied to the engine's at the end");
        continue;
      }
      if (bind)
        throw Refusal(field + ": a host bind below /proc, /dev or /sys; tier '" + tier.name +
                      "' never binds host paths there (fix: leave it out)");
      out.notes.push_back(field + ": " + mount.type + " not mounted (tierbox gives no sysfs, cgroupfs or mqueue)");
      continue;
    }
    if (bind) {
      if (kGeneratedFiles.count(mount.destination)) {
        out.notes.push_back(field + ": tierbox writes its own");
        continue;
      }
      if (mount.source.empty() || mount.source.front() != '/')
        throw Refusal(field + ".source " + quote(mount.source) + ": not an absolute host path (fix: give one)");
      const bool writable = !has_option(mount, "ro");
      check_service_account_bind(field, mount.destination, writable, tier);
      out.request.binds.push_back({mount.source, mount.destination, writable});
      continue;
    }
    if (mount.type == "tmpfs") {
      out.notes.push_back(field + ": tmpfs not mounted (the tier's tmpfs mounts apply)");
      continue;
    }
    throw Refusal(field + ".type " + quote(mount.type) + ": not supported in tier '" + tier.name +
                  "' (fix: use a bind or tmpfs mount, or leave it out)");
  }
}

// A single file name: no '/', not "." or "..", not empty.
bool plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// "/proc/PID/ns/NAME" -> PID (0 when the path has another shape).
pid_t proc_namespace_pid(const std::string& path, const std::string& name) {
  static const std::string kPrefix = "/proc/";
  const std::string suffix = "/ns/" + name;
  if (!path.starts_with(kPrefix) || !path.ends_with(suffix) || path.size() <= kPrefix.size() + suffix.size()) return 0;
  const auto digits = path.substr(kPrefix.size(), path.size() - kPrefix.size() - suffix.size());
  if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return 0;
  return static_cast<pid_t>(std::stol(digits));
}

}  // namespace

NamespaceJoin classify_namespace_path(const Namespace& ns, const policy::Profile& tier) {
  const auto field = "linux.namespaces (" + ns.type + ").path " + quote(ns.path);
  const auto& name = tier.name;
  if (ns.type == "user" || ns.type == "mount" || ns.type == "cgroup")
    throw Refusal(field + ": joining another process's " + ns.type + " namespace is never allowed (tier '" + name +
                  "'; it would share that process's " +
                  (ns.type == "user" ? "privileges" : ns.type == "mount" ? "files" : "cgroups") +
                  "; fix: give the container a new " + ns.type + " namespace)");
  if (ns.type == "pid")
    throw Refusal(field + ": sharing a process namespace is not supported (tier '" + name +
                  "'; fix: shareProcessNamespace: false in the pod, or give the container a new pid namespace)");
  if (ns.type != "network" && ns.type != "ipc" && ns.type != "uts")
    throw Refusal(field + ": unknown namespace type (fix: network, ipc or uts, or leave the path out)");
  NamespaceJoin join{ns.type, ns.path, NamespaceJoin::Kind::container, 0};
  const std::string proc_name = ns.type == "network" ? "net" : ns.type;
  if ((join.pid = proc_namespace_pid(ns.path, proc_name)) > 0) return join;
  if (ns.type == "network") {
    for (const char* dir : {"/run/netns/", "/var/run/netns/"}) {
      if (ns.path.starts_with(dir) && plain_name(ns.path.substr(std::string(dir).size()))) {
        join.kind = NamespaceJoin::Kind::engine_network;
        return join;
      }
    }
  }
  throw Refusal(field + ": only a namespace of a container of this runtime (/proc/PID/ns/" + proc_name + ")" +
                (ns.type == "network" ? std::string(" or the engine's (/run/netns/NAME)") : std::string()) +
                " may be joined (tier '" + name + "'; fix: give the container a new " + ns.type + " namespace)");
}

Spec parse_spec(const json& document, const std::string& origin) {
  const Reader reader(origin);
  if (!document.is_object()) reader.fail("(top level)", "not a JSON object", "write the bundle's config.json as one object");
  Spec spec;
  spec.oci_version = reader.string_at(document, "ociVersion", "ociVersion", true);
  const auto* process = reader.object_at(document, "process", "process");
  if (!process) reader.fail("process", "missing", "give the process the container runs");
  parse_process(reader, *process, spec);
  const auto* root = reader.object_at(document, "root", "root");
  if (!root) reader.fail("root", "missing", "give root.path, the container's root directory");
  spec.root_path = reader.string_at(*root, "path", "root.path", true);
  if (const auto it = root->find("readonly"); it != root->end() && it->is_boolean()) spec.root_readonly = it->get<bool>();
  spec.hostname = reader.string_at(document, "hostname", "hostname");
  if (!valid_hostname(spec.hostname))
    reader.fail("hostname", quote(spec.hostname) + " is not a host name", "letters, digits, '-' and '.', at most 63");
  if (const auto it = document.find("mounts"); it != document.end() && !it->is_null()) {
    if (!it->is_array()) reader.fail("mounts", "not an array", "make it a JSON array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto field = "mounts[" + std::to_string(i) + "]";
      const auto& entry = (*it)[i];
      if (!entry.is_object()) reader.fail(field, "not an object", "{\"destination\": ..., \"type\": ...}");
      Mount mount{reader.string_at(entry, "destination", field + ".destination", true),
                  reader.string_at(entry, "type", field + ".type"), reader.string_at(entry, "source", field + ".source"),
                  reader.strings_at(entry, "options", field + ".options")};
      if (mount.destination.empty() || mount.destination.front() != '/')
        reader.fail(field + ".destination", "not an absolute path", "give an absolute path in the container");
      // Lexically normal, so that a check of where it lands cannot be
      // walked around ("/dev/../etc").
      const auto& destination = mount.destination;
      if (destination.find("//") != std::string::npos || destination.find("/./") != std::string::npos ||
          destination.find("/../") != std::string::npos || (destination.size() > 1 && destination.back() == '/') ||
          destination.ends_with("/..") || destination.ends_with("/."))
        reader.fail(field + ".destination", quote(destination) + " is not a normalized path",
                    "write it without '.', '..', '//' or a trailing '/'");
      spec.mounts.push_back(std::move(mount));
    }
  }
  if (const auto* annotations = reader.object_at(document, "annotations", "annotations")) {
    std::size_t total = 0;
    for (const auto& [key, value] : annotations->items()) {
      if (!value.is_string()) reader.fail("annotations." + key, "not a string", "make it a JSON string");
      spec.annotations[key] = value.get<std::string>();
      total += key.size() + spec.annotations[key].size();
    }
    // They are kept in ROOT/ID/state.json, which every later command reads
    // (at most 1 MiB): more would leave a container no command can stop.
    if (total > kMaxAnnotationBytes)
      reader.fail("annotations", std::to_string(total) + " bytes, more than " + std::to_string(kMaxAnnotationBytes),
                  "at most 256 KiB of keys and values, Kubernetes' own limit");
  }
  if (const auto* hooks = reader.object_at(document, "hooks", "hooks"))
    for (const auto& [kind, list] : hooks->items())
      if (list.is_array() && !list.empty()) spec.hooks.push_back(kind);
  if (const auto* linux = reader.object_at(document, "linux", "linux")) parse_linux(reader, *linux, spec);
  return spec;
}

std::string tier_of(const Spec& spec, const std::string& default_tier) {
  const auto it = spec.annotations.find(kTierAnnotation);
  return it == spec.annotations.end() || it->second.empty() ? default_tier : it->second;
}

std::string annotated_digest(const Spec& spec) {
  for (const char* key : kDigestAnnotations)
    if (const auto it = spec.annotations.find(key); it != spec.annotations.end() && !it->second.empty()) return it->second;
  return "";
}

namespace {

// Privileged (podman --privileged, a Kubernetes privileged pod): every
// capability, CAP_SYS_ADMIN among them. The engines' default set is
// dropped (a narrowing); any other is an added capability.
void check_capabilities(const std::vector<std::string>& capabilities, const std::string& name, const std::string& what,
                        std::vector<std::string>& notes) {
  if (std::find(capabilities.begin(), capabilities.end(), "CAP_SYS_ADMIN") != capabilities.end())
    throw Refusal("process.capabilities: CAP_SYS_ADMIN: the " + what + " is privileged; tier '" + name +
                  "' never runs a privileged container (fix: run it without --privileged / privileged: true)");
  for (const auto& capability : capabilities)
    if (!kEngineDefaultCapabilities.count(capability))
      throw Refusal("process.capabilities: " + capability + " is an added capability; tier '" + name +
                    "' tasks run without capabilities (fix: drop it, e.g. --cap-drop " + capability + ")");
  if (!capabilities.empty()) notes.push_back("process.capabilities: none granted (tierbox tasks run without capabilities)");
}

}  // namespace

ExecProcess parse_exec_process(const json& process, const std::string& origin) {
  const Reader reader(origin);
  if (!process.is_object()) reader.fail("(top level)", "not a JSON object", "write the process as one JSON object");
  ExecProcess out;
  parse_process(reader, process, out.process);
  if (const auto* user = reader.object_at(process, "user", "user")) {
    out.uid = reader.number_at<std::uint32_t>(*user, "uid", "user.uid");
    out.gid = reader.number_at<std::uint32_t>(*user, "gid", "user.gid");
    if (const auto it = user->find("additionalGids"); it != user->end() && !it->is_null()) {
      if (!it->is_array()) reader.fail("user.additionalGids", "not an array", "make it a JSON array of integers");
      for (std::size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_number_unsigned()) reader.fail("user.additionalGids", "not an integer", "give group ids");
        out.additional_gids.push_back((*it)[i].get<std::uint32_t>());
      }
    }
  }
  return out;
}

ExecNarrowed narrow_exec(const ExecProcess& exec, const policy::Profile& tier) {
  ExecNarrowed out;
  const auto& process = exec.process;
  check_capabilities(process.capabilities, tier.name, "process", out.notes);
  // Root (the engines' default, which the container's own process gets as
  // the task's user too) or the tier's user: both are the task's user.
  // Anyone else would be a user the container's task is not.
  if (exec.uid && *exec.uid != 0 && *exec.uid != tier.user.uid)
    throw Refusal("process.user.uid " + std::to_string(*exec.uid) + ": tier '" + tier.name + "' runs its tasks as uid " +
                  std::to_string(tier.user.uid) + " (fix: leave --user out, or give 0 or " +
                  std::to_string(tier.user.uid) + ")");
  if (exec.gid && *exec.gid != 0 && *exec.gid != tier.user.gid)
    throw Refusal("process.user.gid " + std::to_string(*exec.gid) + ": tier '" + tier.name + "' runs its tasks as gid " +
                  std::to_string(tier.user.gid) + " (fix: leave the group out, or give 0 or " +
                  std::to_string(tier.user.gid) + ")");
  if (!exec.additional_gids.empty()) out.notes.push_back("process.user.additionalGids: not given (the task's groups)");
  if (!process.rlimits.empty()) out.notes.push_back("process.rlimits: the container's apply");
  out.argv = process.args;
  std::map<std::string, std::string> env;
  for (const auto& entry : process.env) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    env.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
  out.env = policy::build_environment(tier.environment, env, {});
  out.cwd = process.cwd;
  return out;
}

Narrowed narrow_to_tier(const Spec& spec, const policy::Profile& tier, const std::filesystem::path& bundle,
                        const std::string& container_id, const std::string& image_digest) {
  Narrowed out;
  const auto& name = tier.name;
  if (!spec.hooks.empty())
    throw Refusal("hooks." + spec.hooks.front() + ": OCI hooks are not supported (tier '" + name +
                  "'); they would run on the host outside the sandbox (fix: remove them from the engine's hooks configuration)");
  check_capabilities(spec.capabilities, name, "bundle", out.notes);
  for (const auto& ns : spec.namespaces)
    if (!ns.path.empty()) out.joins.push_back(classify_namespace_path(ns, tier));
  const bool host_network_tier = tier.network.mode == policy::NetworkMode::host;
  if (!has(spec.namespaces, "network") && !host_network_tier)
    throw Refusal("linux.namespaces: no network namespace, so the host's network; tier '" + name + "' has network mode " +
                  policy::to_string(tier.network.mode) +
                  " (fix: give the container its own network, e.g. podman --network none, or use a tier with network mode host)");
  if (has(spec.namespaces, "network") && host_network_tier)
    out.notes.push_back("linux.namespaces: network: tier '" + name + "' shares the host's network");
  for (const char* type : {"pid", "mount", "ipc", "uts"})
    if (!has(spec.namespaces, type))
      throw Refusal(std::string("linux.namespaces: no ") + type + " namespace, so the host's; tier '" + name +
                    "' never shares it (fix: give the container a new " + type + " namespace)");
  for (const auto& device : spec.devices)
    if (!kProvidedDevices.count(device))
      throw Refusal("linux.devices: " + device + ": tier '" + name +
                    "' gives no host device but null, zero, full, random, urandom and tty (fix: leave it out)");
  if (spec.has_uid_mappings) out.notes.push_back("linux.uidMappings/gidMappings: tierbox maps its own ids");
  std::optional<policy::TerminationMessage> termination;
  narrow_mounts(spec, tier, out, termination);

  auto& request = out.request;
  const auto& limits = tier.limits.cgroup;
  if (spec.memory_limit && *spec.memory_limit > 0)
    narrow_limit<std::uint64_t>(static_cast<std::uint64_t>(*spec.memory_limit), limits.memory.value,
                                "linux.resources.memory.limit", "memory", tier, size_text, request.memory, out.notes);
  if (spec.pids_limit && *spec.pids_limit > 0)
    narrow_limit<std::uint64_t>(static_cast<std::uint64_t>(*spec.pids_limit), limits.pids.value,
                                "linux.resources.pids.limit", "pids", tier, count_text, request.pids, out.notes);
  if (spec.cpu_quota && *spec.cpu_quota > 0) {
    const auto millicores = cpu_millicores(static_cast<std::uint64_t>(*spec.cpu_quota), spec.cpu_period.value_or(0));
    narrow_limit<std::uint32_t>(millicores, limits.cpu_millicores.value, "linux.resources.cpu.quota", "cpu", tier,
                                millicores_text, request.cpu_millicores, out.notes);
  }
  if (!spec.root_readonly && !tier.container.writable_root)
    out.notes.push_back("root.readonly: false: tier '" + name +
                        "' has no container.writable_root, so the root is read-only");

  std::vector<policy::RlimitRequest> rlimits;
  for (const auto& limit : spec.rlimits) {
    static const std::pair<const char*, int> kKnown[] = {{"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},
                                                         {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_CORE", RLIMIT_CORE},
                                                         {"RLIMIT_STACK", RLIMIT_STACK},   {"RLIMIT_AS", RLIMIT_AS}};
    const auto known = std::find_if(std::begin(kKnown), std::end(kKnown),
                                    [&](const auto& entry) { return limit.type == entry.first; });
    if (known == std::end(kKnown)) {
      out.notes.push_back("process.rlimits: " + limit.type + " not applied (tierbox sets nofile, nproc, fsize, core, stack, as)");
      continue;
    }
    rlimits.push_back({known->second, limit.soft, limit.hard});
  }

  request.argv = spec.args;
  for (const auto& entry : spec.env) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    request.caller_env.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
  policy::ContainerRoot root;
  root.tree = spec.root_path.front() == '/' ? std::filesystem::path(spec.root_path) : bundle / spec.root_path;
  root.id = container_id;
  root.image_digest = image_digest;
  root.cwd = spec.cwd;
  root.hostname = spec.hostname;
  root.rlimits = std::move(rlimits);
  root.writable = !spec.root_readonly;
  root.termination_message = std::move(termination);
  request.container = std::move(root);
  return out;
}

}  // namespace tierbox::oci
