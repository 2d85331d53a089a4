// File system attempts: write, read, mkdir, remove, rename, a symlink, filling a file.
#include "probe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace probe {

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

}  // namespace probe
