// What the sandbox looks like from inside: identity, mounts, fds, namespaces, network, escapes, tty, keyring.
#include "probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>

namespace probe {
namespace {

json mounts() {
  json list = json::array();
  std::istringstream in(read_text("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point, options;
    fields >> id >> parent >> devno >> root >> mount_point >> options;
    std::string token, fstype, source, super_options;
    while (fields >> token && token != "-") {
    }
    fields >> fstype >> source >> super_options;
    list.push_back({{"root", root}, {"mount_point", mount_point}, {"options", options}, {"fstype", fstype}});
  }
  return list;
}

json open_fds(int exclude) {
  json list = json::array();
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return list;
  while (auto* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (fd == dirfd(dir) || fd == exclude) continue;
    char target[4096] = {};
    ssize_t n = readlink(("/proc/self/fd/" + std::string(entry->d_name)).c_str(), target, sizeof target - 1);
    list.push_back({{"fd", fd}, {"target", n > 0 ? std::string(target, static_cast<std::size_t>(n)) : ""}});
  }
  closedir(dir);
  return list;
}

json namespaces() {
  json ids = json::object();
  for (const char* name : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup", "time"}) {
    struct stat st {};
    if (stat((std::string("/proc/self/ns/") + name).c_str(), &st) == 0) ids[name] = st.st_ino;
  }
  return ids;
}

json addresses() {
  json list = json::array();
  struct ifaddrs* all = nullptr;
  if (getifaddrs(&all) != 0) return list;
  for (auto* it = all; it; it = it->ifa_next) {
    if (!it->ifa_addr || (it->ifa_addr->sa_family != AF_INET && it->ifa_addr->sa_family != AF_INET6)) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = it->ifa_addr->sa_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr);
    inet_ntop(it->ifa_addr->sa_family, raw, text, sizeof text);
    list.push_back({{"interface", it->ifa_name}, {"family", it->ifa_addr->sa_family == AF_INET ? "inet" : "inet6"}, {"address", text}});
  }
  freeifaddrs(all);
  return list;
}

// The names in dir, hidden ones (".", "..", dotfiles) left out.
json visible_entries(const char* path) {
  json entries = json::array();
  if (DIR* dir = opendir(path)) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.') entries.push_back(entry->d_name);
    closedir(dir);
  }
  return entries;
}

json interfaces() {
  json list = json::array();
  struct if_nameindex* names = if_nameindex();
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  for (auto* it = names; it && it->if_index; ++it) {
    struct ifreq request {};
    std::strncpy(request.ifr_name, it->if_name, IFNAMSIZ - 1);
    bool up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &request) == 0 && (request.ifr_flags & IFF_UP);
    list.push_back({{"name", it->if_name}, {"up", up}});
  }
  if (names) if_freenameindex(names);
  if (fd >= 0) close(fd);
  return list;
}

}  // namespace

json status_fields() {
  json fields = json::object();
  std::istringstream in(read_text("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

json info() {
  json report;
  report["uid"] = getuid();
  report["euid"] = geteuid();
  report["gid"] = getgid();
  std::vector<gid_t> groups(static_cast<std::size_t>(getgroups(0, nullptr)));
  getgroups(static_cast<int>(groups.size()), groups.data());
  report["groups"] = groups;
  report["pid"] = getpid();
  report["ppid"] = getppid();
  report["sid"] = getsid(0);
  report["pgid"] = getpgid(0);
  auto status = status_fields();
  for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "SigIgn", "SigBlk"})
    report[key] = status.value(key, "");
  report["dumpable"] = prctl(PR_GET_DUMPABLE);
  struct utsname names {};
  uname(&names);
  report["hostname"] = names.nodename;
  report["domainname"] = names.domainname;
  char cwd[4096] = {};
  report["cwd"] = getcwd(cwd, sizeof cwd) ? cwd : std::string("error: ") + errno_name(errno);
  report["uid_map"] = read_text("/proc/self/uid_map");
  report["gid_map"] = read_text("/proc/self/gid_map");
  report["namespaces"] = namespaces();
  report["mounts"] = mounts();
  report["fds"] = open_fds(-1);
  report["interfaces"] = interfaces();
  report["addresses"] = addresses();
  std::string cmdline = read_text("/proc/1/cmdline");
  report["proc1_cmdline"] = cmdline.substr(0, cmdline.find('\0'));
  std::string environ1 = read_text("/proc/1/environ");
  report["proc1_environ_readable"] = !environ1.empty();
  json env = json::object();
  for (char** entry = environ; *entry; ++entry) {
    std::string text(*entry);
    auto equals = text.find('=');
    env[text.substr(0, equals)] = equals == std::string::npos ? "" : text.substr(equals + 1);
  }
  report["env"] = env;
  report["root_entries"] = visible_entries("/");
  report["dev_entries"] = visible_entries("/dev");
  json pids = json::array();
  if (DIR* dir = opendir("/proc")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] >= '1' && entry->d_name[0] <= '9') pids.push_back(std::atoi(entry->d_name));
    closedir(dir);
  }
  report["visible_pids"] = pids;
  report["setuid0"] = result(setuid(0));
  report["unshare_user"] = result(unshare(CLONE_NEWUSER));
  report["unshare_mount"] = result(unshare(CLONE_NEWNS));
  report["mount_tmpfs"] = result(mount("none", "/tmp", "tmpfs", 0, nullptr));
  report["mknod"] = result(mknod("/tmp/probe-null", S_IFCHR | 0666, makedev(1, 3)));
  report["sethostname"] = result(sethostname("evil", 4));
  report["kill_init"] = result(kill(1, SIGKILL));
  return report;
}

json tiocsti() {
  char c = '#';
  int rc = ioctl(0, TIOCSTI, &c);
  return {{"tiocsti", result(rc)}, {"isatty", isatty(0) == 1}};
}

json escape() {
  json report;
  struct stat root {};
  stat("/", &root);
  json proc_roots = json::array();
  if (DIR* dir = opendir("/proc")) {
    while (auto* entry = readdir(dir)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      struct stat st {};
      std::string link = std::string("/proc/") + entry->d_name + "/root";
      if (stat(link.c_str(), &st) != 0) continue;
      proc_roots.push_back({{"pid", std::atoi(entry->d_name)}, {"same_as_root", st.st_dev == root.st_dev && st.st_ino == root.st_ino}});
    }
    closedir(dir);
  }
  report["proc_roots"] = proc_roots;
  struct stat cwd {};
  stat("/proc/self/cwd", &cwd);
  struct stat dotdot {};
  stat("/..", &dotdot);
  report["root_parent_is_root"] = dotdot.st_ino == root.st_ino && dotdot.st_dev == root.st_dev;
  report["chroot"] = result(chroot("/tmp"));
  report["open_by_handle"] = "skipped";
  // A directory fd inherited from outside would show up here with a host path.
  report["fds"] = open_fds(-1);
  json fd_escapes = json::array();
  for (int fd = 3; fd < 64; ++fd) {
    int probe = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (probe >= 0) {
      fd_escapes.push_back(fd);
      close(probe);
    }
  }
  report["fd_escapes"] = fd_escapes;
  report["host_paths_visible"] = json::array();
  for (const char* path : {"/home", "/root", "/work", "/var", "/boot", "/sys", "/run", "/srv", "/opt", "/mnt"}) {
    struct stat st {};
    if (stat(path, &st) == 0) report["host_paths_visible"].push_back(path);
  }
  report["proc1_environ"] = result(open("/proc/1/environ", O_RDONLY | O_CLOEXEC));
  report["proc1_mem"] = result(open("/proc/1/mem", O_RDONLY | O_CLOEXEC));
  // CVE-2019-5736: the runtime's own binary, reached through its process.
  report["proc1_exe_open"] = result(open("/proc/1/exe", O_RDONLY | O_CLOEXEC));
  char exe[4096];
  report["proc1_exe_readlink"] = result(static_cast<int>(readlink("/proc/1/exe", exe, sizeof exe)));
  // init's fds: its end of the status pipe carries the report the runner
  // writes the end record on; a task that could write there would end its
  // own supervision. The control: the probe's own fd directory.
  auto opened = [](const char* path, int flags) {
    const int fd = open(path, flags | O_CLOEXEC);
    const std::string outcome = result(fd);
    if (fd >= 0) close(fd);
    return outcome;
  };
  report["proc1_fd_dir"] = opened("/proc/1/fd", O_RDONLY | O_DIRECTORY);
  report["proc_self_fd_dir"] = opened("/proc/self/fd", O_RDONLY | O_DIRECTORY);
  json init_fds_opened = json::array();
  for (int fd = 0; fd < 64; ++fd) {
    if (opened(("/proc/1/fd/" + std::to_string(fd)).c_str(), O_WRONLY) == "ok") init_fds_opened.push_back(fd);
  }
  report["proc1_fds_opened_for_writing"] = init_fds_opened;
  return report;
}

// Tries to read a key by serial and to find it by description in the session
// keyring (what a task could do with keys inherited from its caller).
json keyring(long serial, const std::string& description) {
  char payload[256];
  long read = syscall(SYS_keyctl, 11 /* KEYCTL_READ */, serial, payload, sizeof payload);
  std::string read_result = read >= 0 ? std::string(payload, static_cast<std::size_t>(std::min<long>(read, sizeof payload))) : errno_name(errno);
  long found = syscall(SYS_keyctl, 10 /* KEYCTL_SEARCH */, -3 /* KEY_SPEC_SESSION_KEYRING */, "user", description.c_str(), 0);
  return {{"read", read_result}, {"search", found >= 0 ? "found" : errno_name(errno)}};
}

json clocks() {
  json report;
  const auto seconds = [](clockid_t clock) {
    struct timespec now {};
    clock_gettime(clock, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
  };
  report["monotonic"] = seconds(CLOCK_MONOTONIC);
  report["boottime"] = seconds(CLOCK_BOOTTIME);
  report["realtime"] = seconds(CLOCK_REALTIME);
  report["uptime"] = std::strtod(read_text("/proc/uptime").c_str(), nullptr);
  const std::string stat = read_text("/proc/stat");
  const auto btime = stat.find("\nbtime ");
  report["btime"] = btime == std::string::npos ? -1LL : std::strtoll(stat.c_str() + btime + 7, nullptr, 10);
  // Field 22 of /proc/PID/stat: the start time, in clock ticks since boot.
  const auto start_ticks = [](const std::string& pid) {
    const std::string text = read_text("/proc/" + pid + "/stat");
    auto position = text.rfind(')');
    if (position == std::string::npos) return -1.0;
    std::istringstream fields(text.substr(position + 2));
    std::string field;
    for (int index = 3; index <= 22 && fields >> field; ++index)
      if (index == 22) return std::strtod(field.c_str(), nullptr) / static_cast<double>(sysconf(_SC_CLK_TCK));
    return -1.0;
  };
  report["init_started"] = start_ticks("1");
  report["self_started"] = start_ticks("self");
  // The attempts to change them: new offsets for this namespace, and a new one.
  const int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
  std::string offsets = fd < 0 ? errno_name(errno) : "ok";
  if (fd >= 0) {
    const char text[] = "monotonic 100000 0\n";
    if (write(fd, text, sizeof text - 1) < 0) offsets = errno_name(errno);
    close(fd);
  }
  report["set_offsets"] = offsets;
  report["unshare_time"] = result(static_cast<int>(syscall(SYS_unshare, 0x00000080 /* CLONE_NEWTIME */)));
  return report;
}

}  // namespace probe
