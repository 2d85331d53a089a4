// Choosing a hierarchy per controller, and RunCgroups (see cgroup.h).
#include "stages/cgroup.h"

#include <algorithm>
#include <sstream>

#include "common/errors.h"
#include "common/logging.h"
#include "stages/cgroup_internal.h"

namespace tierbox::stages {

using namespace cgroup_internal;

namespace {

constexpr const char* kRunnerLeaf = "tierbox-runner";

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// One use of the run's cgroups and the limit (if any) that needs it.
struct Want {
  CgroupUse use;
  const char* v2_controller;
  const char* v1_controller;
  const char* field;       // the tier's limit that needs it
  bool limited = false;    // that limit is set
  bool required = false;
  bool for_accounting = false;  // wanted even without a limit
};

class Chooser {
 public:
  Chooser(const RunCgroupsRequest& request, const HostCgroups& host, CgroupSyscalls& syscalls, CgroupReport& report)
      : request_(request), host_(host), syscalls_(syscalls), report_(report) {}

  // Fills v2_uses and v1_dirs.
  void choose() {
    const auto& limits = request_.limits;
    const Want wants[] = {
        {CgroupUse::memory, "memory", "memory", "memory", limits.memory.value.has_value(), limits.memory.required, true},
        {CgroupUse::pids, "pids", "pids", "pids", limits.pids.value.has_value(), limits.pids.required, true},
        {CgroupUse::cpu, "cpu", "cpu", "cpu", limits.cpu_millicores.value.has_value(), limits.cpu_millicores.required, false},
        {CgroupUse::io, "io", "blkio", "io_weight", limits.io_weight.value.has_value(), limits.io_weight.required, false},
    };
    locate_v2_parent();
    std::vector<const Want*> on_v2;
    for (const auto& want : wants) {
      if (!want.limited && !want.for_accounting) continue;
      // A controller mounted as v1 cannot be on v2 as well (the kernel binds
      // it to one hierarchy): only the others need v2's cgroup.controllers.
      if (const auto* hierarchy = host_.v1_with(want.v1_controller)) add_v1(*hierarchy, want.use, want.v1_controller);
      else if (contains(v2_available(), want.v2_controller)) on_v2.push_back(&want);
      else unavailable(want, "no " + std::string(want.v2_controller) + " controller in cgroup v2 nor a cgroup v1 hierarchy with it");
    }
    enable_v2(on_v2);
    choose_killer();
  }

  std::string v2_dir;
  std::vector<CgroupUse> v2_uses;
  std::vector<CgroupDir> v1_dirs;

 private:
  // The cgroup runs are created below, in this hierarchy: the configured
  // parent or the runner's own cgroup; a relative --cgroup-parent below
  // that, an absolute one only inside either.
  std::string parent_in(const CgroupHierarchy& hierarchy, const char* name) const {
    const auto& requested = request_.requested_parent;
    const auto& configured = request_.configured_parent;
    const auto& base = configured.empty() ? hierarchy.own_cgroup : configured;
    if (requested.empty()) return base;
    if (requested.front() != '/') return (base == "/" ? "" : base) + "/" + requested;
    if (cgroup_path_is_within(requested, hierarchy.own_cgroup) ||
        (!configured.empty() && cgroup_path_is_within(requested, configured)))
      return requested;
    throw Refusal("--cgroup-parent " + requested + " lies outside the runner's own " + name + " cgroup " +
                  hierarchy.own_cgroup + (configured.empty() ? "" : " and the configured cgroup_parent " + configured) +
                  " (a task never leaves the subtree its caller was given; fix: name a cgroup below one of them)");
  }

  std::string run_dir_in(const CgroupHierarchy& hierarchy, const char* name) const {
    const auto parent = hierarchy.directory_of(parent_in(hierarchy, name));
    if (parent.empty())
      throw Error(std::string("cgroup: the parent cgroup is not visible through the ") + name + " hierarchy mounted at " +
                      hierarchy.mount_point + " (fix: check --cgroup-parent / cgroup_parent)",
                  exit_code::runner_failed);
    return parent + "/" + run_cgroup_name(request_.run_id);
  }

  void locate_v2_parent() {
    const auto* unified = host_.unified();
    if (!unified) return;
    v2_dir = run_dir_in(*unified, "cgroup v2");
    v2_parent_ = v2_dir.substr(0, v2_dir.rfind('/'));
  }

  // The controllers the v2 parent offers its children, read on first need.
  const std::vector<std::string>& v2_available() {
    if (!v2_read_ && !v2_parent_.empty()) {
      auto text = syscalls_.read_file(join(v2_parent_, "cgroup.controllers"));
      if (!text)
        throw Error("cgroup: the parent cgroup " + v2_parent_ +
                        " does not exist (fix: create it, or check --cgroup-parent and cgroup_parent)",
                    exit_code::runner_failed);
      v2_available_ = words(*text);
    }
    v2_read_ = true;
    return v2_available_;
  }

  void add_v1(const CgroupHierarchy& hierarchy, CgroupUse use, const char* controller) {
    report_.controllers.emplace_back(controller, CgroupVersion::v1);
    const auto path = run_dir_in(hierarchy, controller);
    for (auto& dir : v1_dirs) {
      if (dir.path == path) {  // co-mounted controllers share a hierarchy
        dir.uses.push_back(use);
        return;
      }
    }
    v1_dirs.push_back({path, {use}});
  }

  void unavailable(const Want& want, const std::string& reason) {
    if (!want.limited) return;  // accounting only: the result leaves it unknown
    if (want.required)
      throw Refusal("tier '" + request_.tier + "' limits." + want.field + ": this host cannot enforce it (" + reason +
                    "); fix: enable the controller, or mark the limit {\"value\": ..., \"required\": false}");
    report_.not_enforced.push_back(want.field);
    report_.warnings.push_back("limits." + std::string(want.field) + " is not enforced on this host (" + reason + ")");
  }

  // The controllers must be on in the parent's cgroup.subtree_control.
  void enable_v2(const std::vector<const Want*>& on_v2) {
    if (on_v2.empty()) return;
    std::string missing;
    const auto enabled = words(syscalls_.read_file(join(v2_parent_, "cgroup.subtree_control")).value_or(""));
    for (const auto* want : on_v2)
      if (!contains(enabled, want->v2_controller)) missing += (missing.empty() ? "+" : " +") + std::string(want->v2_controller);
    int err = missing.empty() ? 0 : syscalls_.write_file(join(v2_parent_, "cgroup.subtree_control"), missing);
    if (err == EBUSY && move_runner_to_leaf()) err = syscalls_.write_file(join(v2_parent_, "cgroup.subtree_control"), missing);
    if (err == 0) {
      for (const auto* want : on_v2) {
        v2_uses.push_back(want->use);
        report_.controllers.emplace_back(want->v2_controller, CgroupVersion::v2);
      }
      return;
    }
    const std::string reason = "cannot enable it in " + join(v2_parent_, "cgroup.subtree_control") + ": " +
                               errno_text(err) +
                               (err == EBUSY ? ": the cgroup has processes of its own; start tierbox in a cgroup of its "
                                               "own, e.g. systemd-run --scope -p Delegate=yes, or set cgroup_parent"
                                             : "");
    for (const auto* want : on_v2) unavailable(*want, reason);
  }

  // cgroup v2's no-internal-processes rule: a cgroup with processes cannot
  // hand controllers to its children. A runner alone in its cgroup (a
  // delegated unit, e.g. systemd-run --scope -p Delegate=yes) moves itself
  // into a leaf of its own, tierbox-runner, like systemd-nspawn's
  // supervisor; it is shared by later runs and never removed. A cgroup with
  // other processes in it is not ours to rearrange.
  bool move_runner_to_leaf() {
    if (v2_parent_ != host_.unified()->directory_of(host_.unified()->own_cgroup)) return false;
    const auto procs = parse_pid_list(syscalls_.read_file(join(v2_parent_, "cgroup.procs")).value_or(""));
    if (procs != std::vector<pid_t>{request_.runner_pid}) return false;
    const auto leaf = v2_parent_ + "/" + kRunnerLeaf;
    if (int err = syscalls_.make_directory(leaf); err != 0 && err != EEXIST) return false;
    return syscalls_.write_file(join(leaf, "cgroup.procs"), std::to_string(request_.runner_pid)) == 0;
  }

  // How the tree is killed: cgroup.kill if the run has a v2 cgroup anyway;
  // else the v1 freezer; else a v2 cgroup of its own (no controllers needed).
  void choose_killer() {
    if (!v2_uses.empty()) {
      report_.kill = "cgroup.kill";
      return;
    }
    if (const auto* freezer = host_.v1_with("freezer")) {
      add_v1(*freezer, CgroupUse::freezer, "freezer");
      report_.kill = "freezer";
      v2_dir.clear();
      return;
    }
    if (host_.unified()) {
      report_.kill = "cgroup.kill";
      return;
    }
    v2_dir.clear();
  }

  const RunCgroupsRequest& request_;
  const HostCgroups& host_;
  CgroupSyscalls& syscalls_;
  CgroupReport& report_;
  std::string v2_parent_;
  std::vector<std::string> v2_available_;
  bool v2_read_ = false;
};

}  // namespace

// --- RunCgroups ---------------------------------------------------------------

RunCgroups RunCgroups::create(const RunCgroupsRequest& request, const HostCgroups& host, CgroupSyscalls& syscalls) {
  RunCgroups run;
  Chooser chooser(request, host, syscalls, run.report_);
  chooser.choose();
  // Constructed before anything is made, so that a failure below destroys
  // (in ~RunCgroups) exactly what was made.
  if (!chooser.v2_dir.empty()) run.v2_ = make_cgroup_v2_driver(syscalls, {chooser.v2_dir, chooser.v2_uses});
  if (!chooser.v1_dirs.empty()) run.v1_ = make_cgroup_v1_driver(syscalls, chooser.v1_dirs);
  if (run.v2_) {
    run.v2_->create(request.limits, request.tier, run.report_);
    run.v2_fd_ = syscalls.open_directory(chooser.v2_dir);
    run.report_.paths.push_back(chooser.v2_dir);
  }
  run.report_.mode = run.v1_ && run.v2_ ? "mixed" : run.v1_ ? "v1" : run.v2_ ? "v2" : "none";
  run.limits_ = request.limits;
  run.tier_ = request.tier;
  return run;
}

void RunCgroups::create_v1_part() {
  if (!v1_) return;
  v1_->create(limits_, tier_, report_);
  join_fds_ = v1_->open_join_files();
  for (const auto& dir : v1_->dirs()) report_.paths.push_back(dir.path);
}

RunCgroups::~RunCgroups() {
  if (destroyed_ || (!v1_ && !v2_)) return;
  try {
    destroy();
  } catch (const std::exception& error) {
    logging::warn("cgroup: {} (`tierbox gc` removes it later)", error.what());
  }
}

std::vector<int> RunCgroups::join_fds() const {
  std::vector<int> fds;
  for (const auto& fd : join_fds_) fds.push_back(fd.get());
  return fds;
}

bool RunCgroups::kill() {
  if (v2_) return v2_->kill();
  return v1_ && v1_->kill();
}

CgroupUsage RunCgroups::usage() {
  CgroupUsage usage;
  if (v1_) v1_->add_usage(usage);
  if (v2_) v2_->add_usage(usage);
  return usage;
}

void RunCgroups::destroy() {
  destroyed_ = true;
  v2_fd_.reset();
  join_fds_.clear();
  std::optional<Error> first_error;
  for (auto* driver : {v2_.get(), v1_.get()}) {
    if (!driver) continue;
    try {
      driver->destroy();
    } catch (const Error& error) {
      if (!first_error) first_error = error;
    }
  }
  if (first_error) throw *first_error;
}

std::vector<std::pair<std::string, CgroupVersion>> RunCgroups::directories() const {
  std::vector<std::pair<std::string, CgroupVersion>> all;
  for (const auto* driver : {v2_.get(), v1_.get()}) {
    if (!driver) continue;
    for (const auto& dir : driver->dirs()) all.emplace_back(dir.path, driver->version());
  }
  return all;
}

}  // namespace tierbox::stages
