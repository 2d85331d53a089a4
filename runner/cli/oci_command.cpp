// `tierbox oci ...` and the same program named tierbox-runc: the OCI runtime
// command line container engines call (containerd's runc shim, podman's
// conmon). Every container is an ordinary run through service::run_task:
// the same tier, plan, approval gate and audit trail as `tierbox run`.
//
// create forks a supervising tierbox process (detached from the caller, in
// a session of its own) that carries out the run; it stops the launch at the
// launch hooks' start_durable (the sandbox exists, its start record is on
// disk, its task not yet exec'd)
// and waits there on ROOT/ID/start.fifo until `start` writes to it. Its pid
// is the container's pid (engines wait for it; its exit status is the
// container's), and it records the state under --root as it goes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "common/errors.h"
#include "control/run_control.h"
#include "common/files.h"
#include "common/process_info.h"
#include "common/rfc3339.h"
#include "common/unique_fd.h"
#include "common/users.h"
#include "cli/oci_args.h"
#include "cli/oci_control.h"
#include "cli/oci_exec.h"
#include "oci/console.h"
#include "oci/engine_file.h"
#include "oci/pod.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "rootfs/tree_scan.h"
#include "service/run_task.h"

namespace tierbox::cli {
namespace oci_cli {
namespace {

constexpr const char* kDefaultRoot = "/run/tierbox-runc";

struct Globals {
  std::string root = kDefaultRoot;
  std::string log;
  std::string log_format = "text";
  std::string config_dir;
  std::string program = "tierbox-runc";
};

// One line to the engine's --log (JSON lines with --log-format json, which
// podman and containerd read back for the error they report) and to stderr.
void log_line(const Globals& globals, const std::string& level, const std::string& text, bool to_stderr) {
  if (to_stderr) std::fprintf(stderr, "%s: %s\n", globals.program.c_str(), text.c_str());
  if (globals.log.empty()) return;
  std::ofstream out(globals.log, std::ios::app);
  if (globals.log_format == "json")
    out << nlohmann::json{{"level", level}, {"msg", text}, {"time", rfc3339_utc(std::chrono::system_clock::now())}}.dump()
        << "\n";
  else
    out << rfc3339_utc(std::chrono::system_clock::now()) << " " << level << " " << text << "\n";
}

struct CreateOptions {
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  std::string id;
  bool detach = false;
};

std::vector<std::filesystem::path> config_dirs(const Globals& globals) {
  CommonOptions common;
  common.config_dir = globals.config_dir;
  std::vector<std::filesystem::path> dirs;
  for (const auto& dir : search_dirs(common)) dirs.emplace_back(dir);
  return dirs;
}

oci::Spec load_spec(const std::filesystem::path& bundle) {
  const auto file = bundle / "config.json";
  const auto text = read_regular_file(file.string(), "the bundle's config.json", 16 << 20);
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw Error(file.string() + ": not JSON: " + error.what() + " (fix: write the bundle's config.json as JSON)",
                exit_code::runner_failed);
  }
  return oci::parse_spec(document, file.string());
}

std::filesystem::path root_tree(const oci::Spec& spec, const std::filesystem::path& bundle) {
  return spec.root_path.front() == '/' ? std::filesystem::path(spec.root_path) : bundle / spec.root_path;
}

// An annotation's digest, else the manifest digest of the root tree (every
// file read: for a large image, annotate io.tierbox.image-digest instead).
// The host's root is never scanned: the planner refuses it (audited).
std::string image_digest(const oci::Spec& spec, const std::filesystem::path& bundle) {
  auto digest = oci::annotated_digest(spec);
  if (!digest.empty()) return digest;
  std::error_code ec;
  const auto root = std::filesystem::canonical(root_tree(spec, bundle), ec);
  if (ec || root == "/") return "";
  return rootfs::manifest_digest(rootfs::scan_tree(root));
}

void write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return;
  write_file_atomically(path, std::to_string(pid), 0644, Durability::none);
}

UniqueFd listen_exec_socket(const std::filesystem::path& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) throw_sys_error("socket(AF_UNIX, SOCK_SEQPACKET)");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const auto text = path.string();
  if (text.size() >= sizeof address.sun_path)
    throw Error(quote(text) + ": too long for a socket path (fix: a shorter --root)", exit_code::runner_failed);
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw_sys_error("bind(" + quote(text) + ")");
  if (::listen(fd.get(), 16) != 0) throw_sys_error("listen(" + quote(text) + ")");
  return fd;
}

// The supervising process: the container's run, start to end. Its exit
// status is the container's. notify_fd gets "ok\n" once the container is
// created, or "error: LINE\n" when the run ends before that.
int supervise(const Globals& globals, const oci::Spec& spec, oci::ContainerState state, UniqueFd notify_fd) {
  const oci::StateStore store(globals.root);
  const auto dirs = config_dirs(globals);
  service::TaskInput input;
  input.tier = state.tier;
  input.argv = spec.args;
  input.container_id = state.id;
  input.image_digest = state.image_digest;
  const std::filesystem::path bundle = state.bundle;
  // exec: the sandbox's init serves it on ROOT/ID/exec.sock (root only: the
  // directory is 0700). This process's copy goes once init has its own.
  auto exec_listener = listen_exec_socket(oci_exec::exec_socket(globals.root, state.id));
  input.exec_listener = exec_listener.get();
  // The engine's termination-message file, open for the run's length.
  UniqueFd termination_file;
  input.make_request = [&] {
    const auto profile = policy::load_tier(state.tier, dirs);
    auto narrowed = oci::narrow_to_tier(spec, profile, bundle, state.id, state.image_digest);
    // A pod's container: the namespaces it shares with the pod's sandbox.
    auto pod = oci::resolve_pod_namespaces(narrowed.joins, store, state.id, profile);
    narrowed.request.container->joins = std::move(pod.joins);
    state.engine_netns = pod.engine_netns;
    narrowed.notes.insert(narrowed.notes.end(), pod.notes.begin(), pod.notes.end());
    for (const auto& note : narrowed.notes) log_line(globals, "info", "container " + state.id + ": " + note, false);
    auto& request = narrowed.request;
    if (auto& message = request.container->termination_message) {
      termination_file = oci::open_engine_termination_file(*message);
      message->engine_fd = termination_file.get();
    }
    request.caller.uid = ::getuid();
    request.caller.gid = ::getgid();
    request.caller.user_name = user_name(request.caller.uid);
    request.caller_cwd = bundle;
    return request;
  };
  input.on_start = [&](pid_t sandbox_pid) {
    exec_listener.reset();
    state.sandbox_pid = sandbox_pid;
    state.sandbox_start_time = process_start_time(sandbox_pid).value_or(0);
    state.status = "created";
    // The fifo is open for reading before create returns: a `start` right
    // after it finds a reader (else its open would fail with ENXIO).
    UniqueFd fifo(::open(store.fifo(state.id).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fifo) throw_sys_error("open(" + quote(store.fifo(state.id).string()) + ", O_RDONLY)");
    store.write(state);
    write_all(notify_fd.get(), "ok\n", "the create notification");
    notify_fd.reset();
    // Wait for `start` (a byte on the fifo) or the sandbox's end (kill or
    // delete --force before start).
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, sandbox_pid, 0)));
    if (!pidfd) throw_sys_error("pidfd_open(" + std::to_string(sandbox_pid) + ")");
    while (true) {
      pollfd waits[2] = {{fifo.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
      if (::poll(waits, 2, -1) < 0) {
        if (errno == EINTR) continue;
        throw_sys_error("poll(start fifo, sandbox pidfd)");
      }
      if (waits[1].revents) throw Error("the container was killed before it was started", exit_code::runner_failed);
      if (waits[0].revents & POLLIN) {
        char byte = 0;
        const ssize_t n = ::read(fifo.get(), &byte, 1);
        if (n == 1) break;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      }
      if (waits[0].revents & POLLHUP) {
        // A writer came and went without the byte: wait for the next one.
        fifo = UniqueFd(::open(store.fifo(state.id).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        if (!fifo) throw_sys_error("open(" + quote(store.fifo(state.id).string()) + ", O_RDONLY)");
      }
    }
    ::unlink(store.fifo(state.id).c_str());
    state.status = "running";
    store.write(state);
  };
  service::RunSettings settings;
  settings.config_dirs = dirs;
  service::SandboxLauncher launcher;
  const auto result = service::run_task(input, settings, launcher);
  const int status = result.exit_status();
  if (notify_fd) {
    // Refused or failed before the container existed: create says why.
    const auto text = result.context.error.empty() ? "the container ended before it was created" : result.context.error;
    write_all(notify_fd.get(), "error: " + text + "\n", "the create notification");
  } else if (result.runner_error) {
    log_line(globals, "error", "container " + state.id + ": " + result.context.error, false);
  }
  state.status = "stopped";
  state.exit_status = status;
  try {
    if (store.exists(state.id)) store.write(state);
  } catch (const Error&) {
    // Deleted meanwhile (delete --force): nothing to record.
  }
  return status;
}

// A bundle whose config.json cannot be read or parsed never becomes a
// request, but the engine's attempt is still on the record: run_task refuses
// it like a bad profile (its request could not be built), in the default
// tier, naming the container; nothing is launched. Throws that refusal.
[[noreturn]] void refuse_audited(const Globals& globals, const std::string& id, const Error& error) {
  service::TaskInput input;
  input.container_id = id;
  input.make_request = [&]() -> policy::TaskRequest { throw error; };
  service::RunSettings settings;
  settings.config_dirs = config_dirs(globals);
  service::SandboxLauncher never_called;
  const auto result = service::run_task(input, settings, never_called);
  throw Error(result.context.error.empty() ? std::string(error.what()) : result.context.error, error.exit_status());
}

// create: returns the supervising process's pid once the container exists.
pid_t create_container(const Globals& globals, const CreateOptions& options) {
  if (!oci::valid_container_id(options.id))
    throw Error("container id " + quote(options.id) +
                    ": letters, digits, '_', '-' and '.', not first, at most 255 (fix: choose another id)",
                exit_code::runner_failed);
  // The sandbox serves exec on ROOT/ID/exec.sock: said here, before
  // anything is made, rather than by the supervising process's failure.
  if (const auto socket = oci_exec::exec_socket(globals.root, options.id).string();
      socket.size() >= sizeof(sockaddr_un::sun_path))
    throw Error("container id " + quote(options.id) + ": " + quote(socket) + " is longer than a socket path may be (" +
                    std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes) (fix: a shorter --root or id)",
                exit_code::runner_failed);
  std::error_code ec;
  const auto bundle = std::filesystem::absolute(options.bundle, ec);
  std::optional<oci::Spec> loaded;
  try {
    loaded = load_spec(bundle);
  } catch (const Error& error) {
    refuse_audited(globals, options.id, error);
  }
  const auto& spec = *loaded;
  if (spec.terminal && options.console_socket.empty())
    throw Error(bundle.string() + "/config.json: process.terminal is true but no --console-socket was given "
                                  "(fix: pass --console-socket, or set process.terminal false)",
                exit_code::runner_failed);
  const auto runner_config = policy::load_runner_config(config_dirs(globals));
  const oci::StateStore store(globals.root);
  oci::ContainerState state;
  state.id = options.id;
  state.bundle = bundle.string();
  state.status = "creating";
  state.created = rfc3339_utc(std::chrono::system_clock::now());
  state.tier = oci::tier_of(spec, runner_config.default_tier);
  state.annotations = spec.annotations;
  state.image_digest = image_digest(spec, bundle);
  store.create_dir(state.id);
  bool created = false;
  struct RemoveUnlessCreated {
    const oci::StateStore& store;
    const std::string& id;
    const bool& created;
    ~RemoveUnlessCreated() {
      if (!created) {
        try {
          store.remove(id);
        } catch (const Error&) {
        }
      }
    }
  } cleanup{store, state.id, created};
  if (::mkfifo(store.fifo(state.id).c_str(), 0600) != 0)
    throw_sys_error("mkfifo(" + quote(store.fifo(state.id).string()) + ", 0600)");
  store.write(state);
  std::optional<oci::Pty> pty;
  if (spec.terminal) {
    pty = oci::open_pty();
    oci::send_console(options.console_socket, *pty);
  }
  int notify[2];
  if (::pipe2(notify, O_CLOEXEC) != 0) throw_sys_error("pipe2(O_CLOEXEC)");
  UniqueFd notify_read(notify[0]), notify_write(notify[1]);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) throw_sys_error("fork()");
  if (child == 0) {
    notify_read.reset();
    ::setsid();
    // The container's stdio may be a pipe the engine closes early: a warning
    // written then must not kill the run. (The task gets SIGPIPE back: the
    // launch resets every ignored signal for it.)
    ::signal(SIGPIPE, SIG_IGN);
    if (pty) {
      for (int fd = 0; fd <= 2; ++fd) ::dup2(pty->slave.get(), fd);
      pty.reset();
    }
    int status = exit_code::runner_failed;
    try {
      state.pid = ::getpid();
      state.pid_start_time = process_start_time(state.pid).value_or(0);
      status = supervise(globals, spec, state, std::move(notify_write));
    } catch (const std::exception& error) {
      log_line(globals, "error", "container " + state.id + ": " + error.what(), false);
    }
    std::fflush(nullptr);
    ::_exit(status);
  }
  notify_write.reset();
  pty.reset();
  std::string message;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(notify_read.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    message.append(buffer, static_cast<std::size_t>(n));
    // One line; the sandbox holds a copy of the pipe's write end until its
    // setup closes inherited fds, so EOF comes late or (created) not yet.
    if (message.find('\n') != std::string::npos) break;
  }
  if (const auto newline = message.find('\n'); newline != std::string::npos) message.resize(newline);
  if (message != "ok") {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (message.rfind("error: ", 0) == 0) message = message.substr(7);
    if (message.empty()) message = "the container's supervising process ended before the container was created";
    const int exit_status = WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : exit_code::runner_failed;
    throw Error(message, exit_status);
  }
  created = true;
  write_pid_file(options.pid_file, child);
  return child;
}

bool wait_stopped(const oci::StateStore& store, const std::string& id, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (!store.exists(id) || oci::current_status(store.read(id)) == "stopped") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void start_container(const Globals& globals, const std::string& id) {
  const oci::StateStore store(globals.root);
  const auto state = store.read(id);
  const auto status = oci::current_status(state);
  if (status != "created")
    throw Error("container " + quote(id) + " is " + status + ", not created (fix: start only a created container)",
                exit_code::runner_failed);
  UniqueFd fifo(::open(store.fifo(id).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo && (errno == ENXIO || errno == ENOENT) && wait_stopped(store, id, std::chrono::seconds(2)))
    throw Error("container " + quote(id) + " ended before it was started: its sandbox was killed or its setup failed "
                "(fix: see the runtime's --log and the audit trail for why)",
                exit_code::runner_failed);
  if (!fifo) throw_sys_error("open(" + quote(store.fifo(id).string()) + ", O_WRONLY) (is the container waiting?)");
  write_all(fifo.get(), "s", "the start fifo");
  fifo.reset();
  // Returns once the supervisor has taken the byte (state running) or the
  // container has ended.
  for (int i = 0; i < 1000; ++i) {
    const auto now = store.exists(id) ? store.read(id) : state;
    if (now.status != "created" || oci::current_status(now) != "created") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  throw Error("container " + quote(id) + " did not start within 5 s", exit_code::runner_failed);
}

int parse_signal(const std::string& text) {
  if (text.empty()) return SIGTERM;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const int number = std::stoi(text);
    if (number >= 1 && number <= 64) return number;
  }
  std::string name = text;
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  static const std::pair<const char*, int> kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"WINCH", SIGWINCH}};
  for (const auto& [known, number] : kNames)
    if (name == known) return number;
  throw Error("signal " + quote(text) + ": unknown (fix: a number or a name such as SIGTERM)", exit_code::runner_failed);
}

// Signals the sandbox's init, which passes every signal on to the task's
// process group (launch/init.cpp); SIGKILL ends the whole sandbox. A
// created container's init takes only SIGKILL (it is pid 1 of its
// namespace and has no handlers yet): any signal then kills it.
void signal_container(const oci::ContainerState& state, int signal_number) {
  if (state.sandbox_pid <= 0)
    throw Error("container " + quote(state.id) + " has no sandbox yet (fix: try again)", exit_code::runner_failed);
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, state.sandbox_pid, 0)));
  if (!pidfd || process_start_time(state.sandbox_pid) != state.sandbox_start_time) return;  // gone already
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal_number, nullptr, 0) != 0 && errno != ESRCH)
    throw_sys_error("pidfd_send_signal(sandbox init " + std::to_string(state.sandbox_pid) + ", " +
                    std::to_string(signal_number) + ")");
}

// --all: besides the task's tree (through init), every other process in
// the container's cgroups, which `exec` started in sessions of their own.
// Not init itself: it would pass the signal to the task a second time.
void signal_exec_processes(const Globals& globals, const oci::ContainerState& state, int signal_number) {
  const auto run = oci_control::container_run({globals.root, config_dirs(globals)}, state);
  for (pid_t pid : launch::run_processes(run))
    if (pid != state.sandbox_pid && ::kill(pid, signal_number) != 0 && errno != ESRCH)
      throw_sys_error("kill(" + std::to_string(pid) + ", " + std::to_string(signal_number) + ")");
}

void kill_container(const Globals& globals, const std::string& id, const std::string& signal_text, bool all) {
  const oci::StateStore store(globals.root);
  const auto state = store.read(id);
  const auto status = oci::current_status(state);
  const int signal_number = parse_signal(signal_text);
  if (status != "created" && status != "running" && status != "paused")
    throw Error("container " + quote(id) + " is " + status + ", not running (fix: nothing to kill)",
                exit_code::runner_failed);
  if (all && status != "created") signal_exec_processes(globals, state, signal_number);
  signal_container(state, status == "created" ? SIGKILL : signal_number);
}

void delete_container(const Globals& globals, const std::string& id, bool force) {
  const oci::StateStore store(globals.root);
  if (force && !store.exists(id)) return;
  const auto state = store.read(id);
  const auto status = oci::current_status(state);
  if (status != "stopped") {
    if (!force)
      throw Error("container " + quote(id) + " is " + status +
                      " (fix: kill it and wait until it is stopped, or delete --force)",
                  exit_code::runner_failed);
    // A paused container is thawed first: on a cgroup v1 freezer a frozen
    // process does not die of SIGKILL until thawed.
    if (status == "paused") {
      try {
        oci_control::resume({globals.root, config_dirs(globals)}, id);
      } catch (const Error& error) {
        log_line(globals, "warning", "container " + id + ": " + error.what(), false);
      }
    }
    if (state.sandbox_pid > 0) signal_container(state, SIGKILL);
    else if (state.pid > 0 && process_start_time(state.pid) == state.pid_start_time) ::kill(state.pid, SIGKILL);
    // The supervisor removes the cgroups and the network and records the
    // end; the directory goes only after that.
    if (!wait_stopped(store, id, std::chrono::seconds(10)))
      throw Error("container " + quote(id) + " did not stop within 10 s of SIGKILL", exit_code::runner_failed);
  }
  store.remove(id);
}

nlohmann::json features() {
  return {{"ociVersionMin", "1.0.0"},
          {"ociVersionMax", oci::kOciVersion},
          {"hooks", nlohmann::json::array()},
          {"mountOptions", {"ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec"}},
          {"linux",
           {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
            {"capabilities", nlohmann::json::array()},
            {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
            {"seccomp", {{"enabled", true}}},
            {"apparmor", {{"enabled", false}}},
            {"selinux", {{"enabled", false}}}}},
          {"annotations",
           {{"io.tierbox.tier", "the tier the container runs in (default: tierbox.json default_tier)"},
            {"io.tierbox.image-digest", "the image digest recorded in the audit trail"}}}};
}

[[noreturn]] void usage(const std::string& text) {
  throw Error(text + " (usage: tierbox-runc [--root DIR] [--log FILE] [--log-format text|json] "
                     "create|start|state|kill|delete|run|exec|pause|resume|ps|update|features ...; docs/cli.md)",
              exit_code::runner_failed);
}

bool take_value(const std::vector<std::string>& args, std::size_t& i, const std::string& name, std::string& out) {
  return cli::take_value(args, i, name, out, usage);
}

int dispatch(const std::vector<std::string>& args, Globals& globals) {
  std::size_t i = 0;
  std::string ignored;
  for (; i < args.size() && args[i].rfind("-", 0) == 0; ++i) {
    const auto& arg = args[i];
    if (take_value(args, i, "--root", globals.root) || take_value(args, i, "--log", globals.log) ||
        take_value(args, i, "--log-format", globals.log_format) || take_value(args, i, "--config-dir", globals.config_dir) ||
        take_value(args, i, "--rootless", ignored) || take_value(args, i, "--log-level", ignored))
      continue;
    if (arg == "--debug") continue;
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s [--root DIR] [--log FILE] [--log-format text|json] [--config-dir DIR] COMMAND\n"
                  "  create [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] ID\n"
                  "  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID\n"
                  "  pause ID | resume ID | ps [--format table|json] ID\n"
                  "  update [--resources FILE|-] [--memory B] [--memory-swap B] [--pids-limit N] [--cpu-quota US]\n"
                  "         [--cpu-period US] ID\n"
                  "  exec [--process FILE] [--tty] [--console-socket S] [--pid-file F] [--detach] ID [ARGS...]\n"
                  "  run [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] [--detach] ID\n"
                  "  features | --version\n"
                  "The tier: annotation io.tierbox.tier, else tierbox.json default_tier (docs/kubernetes.md).\n",
                  globals.program.c_str());
      return 0;
    }
    if (arg == "--version" || arg == "-v") {
      std::printf("%s version %s\nspec: %s\n", globals.program.c_str(), TIERBOX_VERSION, oci::kOciVersion);
      return 0;
    }
    if (arg == "--systemd-cgroup" || arg == "--systemd-cgroup=true")
      throw Error("--systemd-cgroup: not supported; tierbox makes each container's cgroups itself, below tierbox.json "
                  "cgroup_parent (fix: containerd SystemdCgroup = false; podman --cgroup-manager cgroupfs)",
                  exit_code::runner_failed);
    if (arg == "--systemd-cgroup=false") continue;
    usage("unknown global option " + quote(arg));
  }
  if (globals.log_format != "text" && globals.log_format != "json") usage("--log-format " + quote(globals.log_format));
  if (i >= args.size()) usage("no command");
  const std::string command = args[i++];
  if (command == "update") {
    const std::vector<std::string> rest(args.begin() + static_cast<long>(i), args.end());
    // Notes (what was not applied, where the tier's value applied) to --log and stderr.
    for (const auto& note : oci_control::update_command({globals.root, config_dirs(globals)}, rest))
      log_line(globals, "warning", note, true);
    return 0;
  }
  if (command == "exec")
    return oci_exec::exec_command(globals.root, config_dirs(globals),
                                  std::vector<std::string>(args.begin() + static_cast<long>(i), args.end()));
  std::vector<std::string> positional;
  CreateOptions create;
  std::string format = "table";
  bool force = false;
  bool all = false;  // kill --all
  for (; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (take_value(args, i, "--bundle", create.bundle) || take_value(args, i, "-b", create.bundle) ||
        take_value(args, i, "--pid-file", create.pid_file) ||
        take_value(args, i, "--console-socket", create.console_socket) || take_value(args, i, "--format", format))
      continue;
    if (take_value(args, i, "--preserve-fds", ignored)) {
      if (ignored != "0") usage("--preserve-fds " + ignored + ": not supported");
      continue;
    }
    if (arg == "--force" || arg == "-f") force = true;
    else if (arg == "--all" || arg == "-a") all = true;
    else if (arg == "--detach" || arg == "-d") create.detach = true;
    else if (arg == "--no-pivot" || arg == "--no-new-keyring") continue;  // tierbox always pivots, always a new keyring
    else if (arg.rfind("-", 0) == 0 && arg.size() > 1) usage("unknown option " + quote(arg) + " of " + command);
    else positional.push_back(arg);
  }
  const auto need_id = [&](std::size_t most) {
    if (positional.empty()) usage(command + " needs a container id");
    if (positional.size() > most) usage(command + ": unexpected " + quote(positional.back()));
    return positional.front();
  };
  if (command == "features") {
    std::printf("%s\n", features().dump(2).c_str());
    return 0;
  }
  if (command == "create") {
    create.id = need_id(1);
    create_container(globals, create);
    return 0;
  }
  if (command == "start") {
    start_container(globals, need_id(1));
    return 0;
  }
  if (command == "state") {
    const oci::StateStore store(globals.root);
    std::printf("%s\n", oci::to_oci_state(store.read(need_id(1))).dump(2).c_str());
    return 0;
  }
  if (command == "kill") {
    const auto id = need_id(2);
    kill_container(globals, id, positional.size() > 1 ? positional[1] : "", all);
    return 0;
  }
  if (command == "pause" || command == "resume") {
    const auto id = need_id(1);
    const oci_control::Where where{globals.root, config_dirs(globals)};
    command == "pause" ? oci_control::pause(where, id) : oci_control::resume(where, id);
    return 0;
  }
  if (command == "ps") {
    // runc ps: ID, then ps(1) options, which tierbox does not take.
    const auto id = need_id(1);
    std::printf("%s\n", oci_control::ps({globals.root, config_dirs(globals)}, id, format).c_str());
    return 0;
  }
  if (command == "delete") {
    delete_container(globals, need_id(1), force);
    return 0;
  }
  if (command == "run") {
    create.id = need_id(1);
    const pid_t pid = create_container(globals, create);
    try {
      start_container(globals, create.id);
    } catch (const Error&) {
      // A sandbox that ended between create and start (its setup failed
      // after the container was reported created): run leaves nothing
      // behind, as when the container ends.
      try {
        delete_container(globals, create.id, true);
      } catch (const Error& error) {
        log_line(globals, "warning", "container " + create.id + ": " + error.what(), false);
      }
      throw;
    }
    if (create.detach) return 0;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const oci::StateStore store(globals.root);
    store.remove(create.id);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : exit_code::runner_failed;
  }
  usage("unknown command " + quote(command));
}

}  // namespace
}  // namespace oci_cli

int oci_main(const std::vector<std::string>& args, const std::string& program) {
  oci_cli::Globals globals;
  globals.program = program;
  try {
    return oci_cli::dispatch(args, globals);
  } catch (const Error& error) {
    oci_cli::log_line(globals, "error", error.what(), true);
    return error.exit_status() == 0 ? exit_code::runner_failed : error.exit_status();
  } catch (const std::exception& error) {
    oci_cli::log_line(globals, "error", std::string("internal error: ") + error.what(), true);
    return exit_code::runner_failed;
  }
}

}  // namespace tierbox::cli
