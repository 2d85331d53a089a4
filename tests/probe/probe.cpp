// tierbox-probe: runs inside a sandbox and reports, as one JSON object on
// stdout, what it can see and do from there. Integration tests assert on the
// report; every attempt that must fail is made for real and its errno kept.
//
//   tierbox-probe info                 identity, capabilities, namespaces, mounts, fds, ...
//   tierbox-probe write PATH...        try to create a file in (or open for writing) each PATH
//   tierbox-probe read PATH...         try to read each PATH
//   tierbox-probe tiocsti              push a character into the terminal on fd 0
//   tierbox-probe escape               try the known ways back to the host's filesystem
//   tierbox-probe loopback             serve and connect over 127.0.0.1 inside the sandbox
//   tierbox-probe connect HOST PORT    TCP connect (fails fast, 2 s timeout)
//   tierbox-probe connect-many HOST:PORT...   the same for each (HOST "gateway": the default gateway)
//   tierbox-probe exchange tcp|udp HOST PORT  connect (HOST may be a name), send, expect the echo back
//   tierbox-probe resolve NAME...      getaddrinfo(AF_INET) of each name
//   tierbox-probe resolve-after FILE NAME...  resolve, wait for FILE to exist, resolve again
//   tierbox-probe hold HOST PORT FILE  exchange over TCP, say "probe: holding" on stderr, wait
//                                      for FILE, exchange again on the same connection, then
//                                      try a new connection
//   tierbox-probe net-admin HOST:PORT...  try to take eth0 down and to delete the nft table,
//                                      then connect-many
//   tierbox-probe connect-abstract NAME   connect to an abstract unix socket
//   tierbox-probe orphans N            fork N orphans that exit; report zombies left
//   tierbox-probe fill PATH BYTES      write BYTES into PATH, report how far it got
//   tierbox-probe keyring SERIAL DESC  read a key, search the session keyring
//   tierbox-probe limits               /proc/self/limits and /proc/self/cgroup, parsed
//   tierbox-probe forkbomb SECONDS [MARKER]   every process forks as fast as it can for SECONDS;
//                                      report how many forks failed (EAGAIN) in the first process
//   tierbox-probe hog BYTES            allocate and touch BYTES, 1 MiB at a time, report progress on stderr
//   tierbox-probe spin SECONDS THREADS busy-loop THREADS threads for SECONDS; report CPU and wall time
//   tierbox-probe syscall NR [ARG...]  a raw syscall with numeric arguments: "ok" or the errno name
//   tierbox-probe blocked [NAME...]    attempt each always-blocked syscall (all, or the
//                                      named ones), each in a child process: "ok", the
//                                      errno name, or "killed:SIGSYS" (docs/seccomp.md)
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;

namespace {

std::string errno_name(int err) {
  if (err == 0) return "ok";
  const char* name = strerrorname_np(err);
  return name ? name : std::to_string(err);
}

std::string result(int rc) { return rc >= 0 ? "ok" : errno_name(errno); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

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
  for (const char* name : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"}) {
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
  json root_entries = json::array();
  if (DIR* dir = opendir("/")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.') root_entries.push_back(entry->d_name);
    closedir(dir);
  }
  report["root_entries"] = root_entries;
  json dev_entries = json::array();
  if (DIR* dir = opendir("/dev")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.') dev_entries.push_back(entry->d_name);
    closedir(dir);
  }
  report["dev_entries"] = dev_entries;
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

json try_write(const std::vector<std::string>& paths) {
  json report = json::object();
  for (const auto& path : paths) {
    struct stat st {};
    int rc;
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      std::string file = path + "/.probe-" + std::to_string(getpid());
      rc = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (rc >= 0) {
        close(rc);
        unlink(file.c_str());
      }
    } else {
      rc = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (rc >= 0) close(rc);
    }
    report[path] = result(rc);
  }
  return report;
}

json try_read(const std::vector<std::string>& paths) {
  json report = json::object();
  for (const auto& path : paths) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      report[path] = {{"result", errno_name(errno)}};
      continue;
    }
    char buffer[256];
    ssize_t n = read(fd, buffer, sizeof buffer);
    report[path] = {{"result", n < 0 ? errno_name(errno) : "ok"}, {"bytes", n < 0 ? 0 : n}};
    close(fd);
  }
  return report;
}

// Each path: mkdir, then the result.
json try_mkdir(const std::vector<std::string>& paths) {
  json report = json::object();
  for (const auto& path : paths) report[path] = result(mkdir(path.c_str(), 0755));
  return report;
}

// Each path: unlink (or rmdir for a directory), then the result.
json try_remove(const std::vector<std::string>& paths) {
  json report = json::object();
  for (const auto& path : paths) {
    struct stat st {};
    const bool directory = lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    report[path] = result(directory ? rmdir(path.c_str()) : unlink(path.c_str()));
  }
  return report;
}

// rename FROM TO
json try_rename(const std::vector<std::string>& args) {
  return {{"rename", result(rename(args[0].c_str(), args[1].c_str()))}};
}

// symlink TARGET LINK, then read through LINK.
json read_through_symlink(const std::vector<std::string>& args) {
  json report = {{"symlink", result(symlink(args[0].c_str(), args[1].c_str()))}};
  report["read"] = try_read({args[1]})[args[1]];
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
  return report;
}

json loopback() {
  json report;
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  report["bind"] = result(bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address));
  report["listen"] = result(listen(server, 1));
  socklen_t length = sizeof address;
  getsockname(server, reinterpret_cast<sockaddr*>(&address), &length);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  report["connect"] = result(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address));
  int accepted = accept(server, nullptr, nullptr);
  const char message[] = "ping";
  bool echoed = false;
  if (accepted >= 0 && write(client, message, 4) == 4) {
    char buffer[4];
    echoed = read(accepted, buffer, 4) == 4 && std::memcmp(buffer, message, 4) == 0;
  }
  report["exchanged"] = echoed;
  return report;
}

json connect_tcp(const std::string& host, int port) {
  int fd = socket(host.find(':') != std::string::npos ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc;
  if (host.find(':') != std::string::npos) {
    struct sockaddr_in6 address {};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &address.sin6_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    struct sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  std::string outcome = result(rc);
  if (rc < 0 && errno == EINPROGRESS) {
    struct pollfd wait_for {fd, POLLOUT, 0};
    int ready = poll(&wait_for, 1, 2000);
    if (ready == 0) outcome = "timeout";
    else {
      int err = 0;
      socklen_t length = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length);
      outcome = errno_name(err);
    }
  }
  return {{"connect", outcome}};
}

// The first IPv4 address of host (a literal or a name), or "" with error set.
std::string resolve_one(const std::string& host, std::string& error) {
  struct addrinfo hints {};
  hints.ai_family = AF_INET;
  struct addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    error = rc == EAI_NONAME ? "EAI_NONAME" : gai_strerror(rc);
    return "";
  }
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  freeaddrinfo(found);
  return text;
}

json resolve(const std::vector<std::string>& names) {
  json report = json::object();
  for (const auto& name : names) {
    struct addrinfo hints {};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* found = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
      report[name] = rc == EAI_NONAME ? "EAI_NONAME" : std::string(gai_strerror(rc));
      continue;
    }
    json list = json::array();
    for (auto* it = found; it; it = it->ai_next) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ai_addr)->sin_addr, text, sizeof text);
      list.push_back(text);
    }
    freeaddrinfo(found);
    report[name] = list;
  }
  return report;
}

// Waits until fd is ready for events, up to 2 s: "ok", "timeout" or the error.
std::string wait_ready(int fd, short events) {
  struct pollfd wait_for {fd, events, 0};
  int ready = poll(&wait_for, 1, 2000);
  if (ready == 0) return "timeout";
  if (ready < 0) return errno_name(errno);
  int err = 0;
  socklen_t length = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length);
  return err ? errno_name(err) : "ok";
}

// A connected socket (nonblocking) and how the connect went.
std::pair<int, std::string> open_connection(bool tcp, const std::string& host, int port) {
  std::string error;
  std::string address_text = resolve_one(host, error);
  if (address_text.empty()) return {-1, error};
  int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address_text.c_str(), &address.sin_addr);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  std::string outcome = rc == 0 ? "ok" : errno_name(errno);
  if (rc < 0 && errno == EINPROGRESS) outcome = wait_ready(fd, POLLOUT);
  return {fd, outcome};
}

// Sends text and expects it echoed: "ok", "timeout", or the error.
std::string echo(int fd, const std::string& text) {
  if (send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) return errno_name(errno);
  std::string received;
  while (received.size() < text.size()) {
    std::string ready = wait_ready(fd, POLLIN);
    if (ready != "ok") return ready;
    char buffer[256];
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EAGAIN) continue;
    if (n <= 0) return n == 0 ? "closed" : errno_name(errno);
    received.append(buffer, static_cast<std::size_t>(n));
  }
  return received == text ? "ok" : "garbled";
}

json exchange(const std::string& protocol, const std::string& host, int port) {
  auto [fd, connected] = open_connection(protocol == "tcp", host, port);
  json report = {{"connect", connected}};
  report["echo"] = connected == "ok" ? echo(fd, "tierbox-probe " + protocol) : "not connected";
  report["exchanged"] = report["echo"] == "ok";
  if (fd >= 0) close(fd);
  return report;
}

// The default gateway, from /proc/net/route ("" without one).
std::string default_gateway() {
  std::istringstream routes(read_text("/proc/net/route"));
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string interface, destination, gateway;
    fields >> interface >> destination >> gateway;
    if (destination != "00000000") continue;
    struct in_addr address {};
    address.s_addr = static_cast<in_addr_t>(std::stoul(gateway, nullptr, 16));
    return inet_ntoa(address);
  }
  return "";
}

// HOST may be "gateway": the sandbox's default gateway (the host's end).
json connect_many(const std::vector<std::string>& targets) {
  json report = json::object();
  for (const auto& target : targets) {
    auto colon = target.rfind(':');
    std::string host = target.substr(0, colon);
    if (host == "gateway") host = default_gateway();
    auto [fd, outcome] = open_connection(true, host, std::stoi(target.substr(colon + 1)));
    report[target] = outcome;
    if (fd >= 0) close(fd);
  }
  return report;
}

bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 600; ++i) {
    if (access(path.c_str(), F_OK) == 0) return true;
    usleep(50000);
  }
  return false;
}

json resolve_after(const std::string& trigger, const std::vector<std::string>& names) {
  json report;
  report["before"] = resolve(names);
  std::cerr << "probe: resolved" << std::endl;
  report["triggered"] = wait_for_file(trigger);
  report["after"] = resolve(names);
  return report;
}

json hold(const std::string& host, int port, const std::string& trigger) {
  auto [fd, connected] = open_connection(true, host, port);
  json report = {{"connect", connected}};
  report["before"] = connected == "ok" ? echo(fd, "before") : "not connected";
  std::cerr << "probe: holding" << std::endl;
  report["triggered"] = wait_for_file(trigger);
  report["after"] = connected == "ok" ? echo(fd, "after") : "not connected";
  if (fd >= 0) close(fd);
  auto [second, reconnected] = open_connection(true, host, port);
  report["new_connection"] = reconnected;
  if (second >= 0) close(second);
  return report;
}

// What a task with a network could try against its own firewall: take the
// interface down, and delete tierbox's nftables table over netlink.
json net_admin(const std::vector<std::string>& then_connect) {
  json report;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq request {};
  std::strncpy(request.ifr_name, "eth0", IFNAMSIZ - 1);
  ioctl(fd, SIOCGIFFLAGS, &request);
  request.ifr_flags = static_cast<short>(request.ifr_flags & ~IFF_UP);
  report["link_down"] = result(ioctl(fd, SIOCSIFFLAGS, &request));
  close(fd);

  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (nl < 0) {
    report["nft_delete_table"] = "socket: " + errno_name(errno);
    return report;
  }
  struct {
    nlmsghdr begin_header;
    nfgenmsg begin;
    nlmsghdr header;
    nfgenmsg table;
    nlattr name_attribute;
    char name[8];
    nlmsghdr end_header;
    nfgenmsg end;
  } batch{};
  batch.begin_header = {sizeof(nlmsghdr) + sizeof(nfgenmsg), NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 1, 0};
  batch.begin.res_id = htons(NFNL_SUBSYS_NFTABLES);
  batch.header = {sizeof(nlmsghdr) + sizeof(nfgenmsg) + sizeof(nlattr) + 8,
                  static_cast<__u16>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE), NLM_F_REQUEST | NLM_F_ACK, 2, 0};
  batch.table.nfgen_family = 1;  // NFPROTO_INET
  batch.name_attribute = {static_cast<__u16>(sizeof(nlattr) + 8), NFTA_TABLE_NAME};
  std::memcpy(batch.name, "tierbox", 8);
  batch.end_header = {sizeof(nlmsghdr) + sizeof(nfgenmsg), NFNL_MSG_BATCH_END, NLM_F_REQUEST, 3, 0};
  batch.end.res_id = htons(NFNL_SUBSYS_NFTABLES);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl, &batch, sizeof batch, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    report["nft_delete_table"] = "sendto: " + errno_name(errno);
  } else {
    char answer[512];
    ssize_t n = recv(nl, answer, sizeof answer, 0);
    auto* header = reinterpret_cast<nlmsghdr*>(answer);
    if (n >= static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr)) && header->nlmsg_type == NLMSG_ERROR)
      report["nft_delete_table"] = errno_name(-reinterpret_cast<nlmsgerr*>(NLMSG_DATA(header))->error);
    else
      report["nft_delete_table"] = "no answer";
  }
  close(nl);
  report["afterwards"] = connect_many(then_connect);
  return report;
}

json connect_abstract(const std::string& name) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), std::min(name.size(), sizeof address.sun_path - 2));
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return {{"connect", result(connect(fd, reinterpret_cast<sockaddr*>(&address), length))}};
}

json connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return {{"connect", result(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address))}};
}

json orphans(int count) {
  for (int i = 0; i < count; ++i) {
    pid_t child = fork();
    if (child == 0) {
      // The middle process exits at once; its child becomes an orphan of
      // init and exits shortly after.
      if (fork() == 0) {
        usleep(20000);
        _exit(0);
      }
      _exit(0);
    }
    waitpid(child, nullptr, 0);
  }
  usleep(300000);
  int zombies = 0;
  if (DIR* dir = opendir("/proc")) {
    while (auto* entry = readdir(dir)) {
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
      std::string stat_text = read_text(std::string("/proc/") + entry->d_name + "/stat");
      auto paren = stat_text.rfind(')');
      if (paren != std::string::npos && paren + 2 < stat_text.size() && stat_text[paren + 2] == 'Z') ++zombies;
    }
    closedir(dir);
  }
  return {{"zombies", zombies}};
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

json fill(const std::string& path, long long bytes) {
  // Past RLIMIT_FSIZE the kernel sends SIGXFSZ (default: die) before write
  // fails with EFBIG; ignoring it shows the EFBIG.
  signal(SIGXFSZ, SIG_IGN);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return {{"open", errno_name(errno)}};
  std::vector<char> chunk(1 << 20, 'x');
  long long written = 0;
  std::string outcome = "ok";
  while (written < bytes) {
    ssize_t n = write(fd, chunk.data(), static_cast<std::size_t>(std::min<long long>(bytes - written, static_cast<long long>(chunk.size()))));
    if (n < 0) {
      outcome = errno_name(errno);
      break;
    }
    written += n;
  }
  close(fd);
  unlink(path.c_str());
  return {{"written", written}, {"result", outcome}};
}

json limits() {
  json report;
  json table = json::object();
  std::istringstream in(read_text("/proc/self/limits"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // "Max open files            256                  256                  files"
    if (line.size() < 47) continue;
    std::string name = line.substr(0, 26);
    name.erase(name.find_last_not_of(' ') + 1);
    std::istringstream values(line.substr(26));
    std::string soft, hard;
    values >> soft >> hard;
    table[name] = {{"soft", soft}, {"hard", hard}};
  }
  report["limits"] = table;
  json cgroups = json::array();
  std::istringstream cgroup(read_text("/proc/self/cgroup"));
  while (std::getline(cgroup, line)) cgroups.push_back(line);
  report["cgroup"] = cgroups;
  return report;
}

double monotonic_seconds() {
  struct timespec now {};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

json forkbomb(double seconds) {
  const double deadline = monotonic_seconds() + seconds;
  const pid_t first = getpid();
  long failed = 0, forked = 0;
  while (monotonic_seconds() < deadline) {
    const pid_t child = fork();
    if (child < 0) {
      ++failed;
      usleep(2000);  // the limit holds: no need to burn the CPU
    } else if (child == 0) {
      failed = forked = 0;  // a copy: forks on, reports nothing
    } else {
      ++forked;
    }
  }
  if (getpid() != first) _exit(0);
  return {{"forked", forked}, {"failed", failed}, {"errno", failed > 0 ? "EAGAIN" : "ok"}};
}

json hog(long long bytes) {
  std::vector<char*> chunks;
  long long touched = 0;
  while (touched < bytes) {
    char* chunk = static_cast<char*>(malloc(1 << 20));
    if (!chunk) return {{"touched", touched}, {"result", "ENOMEM"}};
    memset(chunk, 0x5a, 1 << 20);  // touch every page: charged to the cgroup
    chunks.push_back(chunk);
    touched += 1 << 20;
    if (touched % (16 << 20) == 0) std::cerr << "hog: " << (touched >> 20) << " MiB" << std::endl;
  }
  return {{"touched", touched}, {"result", "ok"}};
}

double cpu_seconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

json spin(double seconds, int threads) {
  const double start_wall = monotonic_seconds();
  const double start_cpu = cpu_seconds();
  std::vector<std::thread> spinners;
  for (int i = 0; i < threads; ++i)
    spinners.emplace_back([&] {
      volatile unsigned long counter = 0;
      while (monotonic_seconds() - start_wall < seconds) counter = counter + 1;
    });
  for (auto& spinner : spinners) spinner.join();
  const double wall = monotonic_seconds() - start_wall;
  const double cpu = cpu_seconds() - start_cpu;
  return {{"wall_ms", static_cast<long>(wall * 1000)}, {"cpu_ms", static_cast<long>(cpu * 1000)}, {"cores", cpu / wall}};
}

// A task that will not stop on SIGTERM: it ignores it, and double-forks a
// grandchild that leaves the task's session and process group (so a signal
// to the group misses it) and ignores SIGTERM too. Never returns.
json stubborn() {
  signal(SIGTERM, SIG_IGN);
  pid_t middle = fork();
  if (middle == 0) {
    if (fork() == 0) {
      setsid();
      for (;;) sleep(1000);
    }
    _exit(0);
  }
  waitpid(middle, nullptr, 0);
  std::cerr << "probe: stubborn" << std::endl;
  for (;;) sleep(1000);
}

// Sends a UDP datagram to host:port every 10 ms, forever (what a frozen or
// cut-off task must no longer be able to do).
json stream(const std::string& host, int port) {
  auto [fd, connected] = open_connection(false, host, port);
  if (connected != "ok") return {{"connect", connected}};
  bool announced = false;
  for (;;) {
    if (send(fd, "tierbox-stream", 14, MSG_NOSIGNAL) == 14 && !announced) {
      std::cerr << "probe: streaming" << std::endl;
      announced = true;
    }
    usleep(10000);
  }
}

// --- always-blocked syscalls (docs/seccomp.md) ---

// Runs attempt in a child process, so a filter that kills does not take the
// probe with it. attempt returns 0 or an errno.
std::string in_child(const std::function<int()>& attempt) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "probe-error";
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    int err = attempt();
    if (write(fds[1], &err, sizeof err) != sizeof err) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  int err = -1;
  ssize_t n = read(fds[0], &err, sizeof err);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("killed:SIG") + (name ? name : "?");
  }
  if (n != sizeof err) return "probe-error";
  return errno_name(err);
}

int errno_of(long rc) { return rc < 0 ? errno : 0; }

// A sleeping sibling for the ptrace and process_vm attempts; killed after.
struct Sibling {
  pid_t pid = fork();
  Sibling() {
    if (pid == 0) {
      // Not the attempt's result pipe: a filter that kills the attempt must
      // not leave the probe waiting for this process to close it.
      close_range(3, ~0U, 0);
      pause();
      _exit(0);
    }
  }
  ~Sibling() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

int attempt_clone_user() {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid < 0) return errno;
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return 0;
}

int attempt_clone3_user() {
  struct clone_args args {};
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) _exit(0);
  if (pid < 0) return errno;
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return 0;
}

int attempt_bpf_prog_load() {
  // The smallest valid socket filter: return 0.
  struct bpf_insn program[] = {{BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0}, {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
  union bpf_attr attr {};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<std::uint64_t>(program);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<std::uint64_t>("GPL");
  return errno_of(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
}

int attempt_perf_event_open() {
  struct perf_event_attr attr {};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.exclude_kernel = 1;
  return errno_of(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

int attempt_io_uring_setup() {
  struct io_uring_params params {};
  return errno_of(syscall(SYS_io_uring_setup, 1, &params));
}

int attempt_ptrace_attach_sibling() {
  Sibling sibling;
  return errno_of(ptrace(PTRACE_ATTACH, sibling.pid, nullptr, nullptr));
}

int attempt_process_vm_readv_sibling() {
  Sibling sibling;
  static char buffer[16];
  struct iovec local {buffer, sizeof buffer}, remote {buffer, sizeof buffer};
  return errno_of(process_vm_readv(sibling.pid, &local, 1, &remote, 1, 0));
}

// The i386 entry point: getpid is 20 in the 32-bit table.
int attempt_int80() {
  long result;
  asm volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory");
  return result < 0 && result > -4096 ? static_cast<int>(-result) : 0;
}

std::vector<std::pair<std::string, std::function<int()>>> blocked_attempts() {
  return {
      {"unshare_user", [] { return errno_of(unshare(CLONE_NEWUSER)); }},
      {"clone_user", attempt_clone_user},
      {"clone3_user", attempt_clone3_user},
      {"mount_tmpfs", [] { return errno_of(mount("none", "/tmp", "tmpfs", 0, nullptr)); }},
      {"umount", [] { return errno_of(umount2("/proc", MNT_DETACH)); }},
      {"pivot_root", [] { return errno_of(syscall(SYS_pivot_root, ".", ".")); }},
      {"open_tree", [] { return errno_of(syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */)); }},
      {"move_mount", [] { return errno_of(syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp", 4 /* F_EMPTY_PATH */)); }},
      {"fsopen", [] { return errno_of(syscall(SYS_fsopen, "tmpfs", 0)); }},
      {"fsmount", [] { return errno_of(syscall(SYS_fsmount, -1, 0, 0)); }},
      {"kexec_load", [] { return errno_of(syscall(SYS_kexec_load, 0, 0, nullptr, 0)); }},
      {"init_module", [] { return errno_of(syscall(SYS_init_module, nullptr, 0, "")); }},
      {"finit_module", [] { return errno_of(syscall(SYS_finit_module, -1, "", 0)); }},
      {"delete_module", [] { return errno_of(syscall(SYS_delete_module, "tierbox_probe", 0)); }},
      {"bpf_prog_load", attempt_bpf_prog_load},
      {"perf_event_open", attempt_perf_event_open},
      {"keyctl", [] { return errno_of(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr)); }},
      {"add_key", [] { return errno_of(syscall(SYS_add_key, "user", "tierbox-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING)); }},
      {"request_key", [] { return errno_of(syscall(SYS_request_key, "user", "tierbox-probe-absent", nullptr, 0)); }},
      {"ptrace_traceme", [] { return errno_of(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr)); }},
      {"ptrace_attach_sibling", attempt_ptrace_attach_sibling},
      {"process_vm_readv", attempt_process_vm_readv_sibling},
      {"userfaultfd", [] { return errno_of(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY)); }},
      {"io_uring_setup", attempt_io_uring_setup},
      {"tiocsti", [] { char c = '#'; return errno_of(ioctl(0, TIOCSTI, &c)); }},
      {"tiocsti_high_bits", [] { char c = '#'; return errno_of(syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c)); }},
      {"tioclinux", [] { char subcode = 0; return errno_of(ioctl(0, TIOCLINUX, &subcode)); }},
      {"personality_no_randomize", [] { return errno_of(personality(static_cast<unsigned long>(PER_LINUX) | ADDR_NO_RANDOMIZE)); }},
      {"int80", attempt_int80},
      {"x32", [] { return errno_of(syscall(0x40000000 | SYS_getpid)); }},
  };
}

// Attempts that change the system when they succeed: run only inside a
// tierbox sandbox (whose pid 1 is tierbox-init), never on a test host as root.
bool changes_the_system(const std::string& name) {
  for (const char* unsafe : {"mount_tmpfs", "umount", "pivot_root", "open_tree", "move_mount", "fsopen", "fsmount",
                             "kexec_load", "init_module", "finit_module", "delete_module"})
    if (name == unsafe) return true;
  return false;
}

json blocked(const std::vector<std::string>& names) {
  json report = json::object();
  const bool in_sandbox = read_text("/proc/1/cmdline").rfind("tierbox-init", 0) == 0;
  for (const auto& [name, attempt] : blocked_attempts()) {
    if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
    if (!in_sandbox && changes_the_system(name)) {
      report[name] = "skipped-outside-a-sandbox";
      continue;
    }
    report[name] = in_child(attempt);
  }
  report["status_seccomp"] = status_fields().value("Seccomp", "");
  return report;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: tierbox-probe info|write|read|tiocsti|escape|loopback|connect|connect-many|exchange|resolve|"
                 "resolve-after|hold|net-admin|connect-abstract|orphans|fill|keyring|limits|forkbomb|hog|spin|stubborn|stream ...\n";
    return 2;
  }
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  json report;
  if (command == "info") report = info();
  else if (command == "write") report = try_write(args);
  else if (command == "read") report = try_read(args);
  else if (command == "mkdir") report = try_mkdir(args);
  else if (command == "remove") report = try_remove(args);
  else if (command == "rename" && args.size() == 2) report = try_rename(args);
  else if (command == "read-through-symlink" && args.size() == 2) report = read_through_symlink(args);
  else if (command == "tiocsti") report = tiocsti();
  else if (command == "escape") report = escape();
  else if (command == "loopback") report = loopback();
  else if (command == "connect" && args.size() == 2) report = connect_tcp(args[0], std::stoi(args[1]));
  else if (command == "connect-abstract" && args.size() == 1) report = connect_abstract(args[0]);
  else if (command == "connect-unix" && args.size() == 1) report = connect_unix(args[0]);
  else if (command == "connect-many") report = connect_many(args);
  else if (command == "exchange" && args.size() == 3) report = exchange(args[0], args[1], std::stoi(args[2]));
  else if (command == "resolve") report = resolve(args);
  else if (command == "resolve-after" && args.size() >= 2)
    report = resolve_after(args[0], std::vector<std::string>(args.begin() + 1, args.end()));
  else if (command == "hold" && args.size() == 3) report = hold(args[0], std::stoi(args[1]), args[2]);
  else if (command == "net-admin") report = net_admin(args);
  else if (command == "orphans" && args.size() == 1) report = orphans(std::stoi(args[0]));
  else if (command == "fill" && args.size() == 2) report = fill(args[0], std::stoll(args[1]));
  else if (command == "keyring" && args.size() == 2) report = keyring(std::stol(args[0]), args[1]);
  else if (command == "limits") report = limits();
  else if (command == "forkbomb" && !args.empty()) report = forkbomb(std::stod(args[0]));
  else if (command == "hog" && args.size() == 1) report = hog(std::stoll(args[0]));
  else if (command == "spin" && args.size() == 2) report = spin(std::stod(args[0]), std::stoi(args[1]));
  else if (command == "blocked") report = blocked(args);
  else if (command == "stubborn") report = stubborn();
  else if (command == "stream" && args.size() == 2) report = stream(args[0], std::stoi(args[1]));
  else if (command == "syscall" && !args.empty() && args.size() <= 7) {
    long values[6] = {};
    for (std::size_t i = 1; i < args.size(); ++i) values[i - 1] = std::stol(args[i], nullptr, 0);
    report = {{"result", in_child([&] {
                 return errno_of(syscall(std::stol(args[0]), values[0], values[1], values[2], values[3], values[4], values[5]));
               })}};
  }
  else {
    std::cerr << "tierbox-probe: unknown command " << command << "\n";
    return 2;
  }
  std::cout << report.dump() << std::endl;
  return 0;
}
