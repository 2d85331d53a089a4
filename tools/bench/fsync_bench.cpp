// fsync_bench: what one durable audit record costs on a filesystem, the part
// of a launch no design with a durable start record can hide (floor.sh).
// Appends a line the size of a launch's records to FILE (O_APPEND, as the
// audit log), waits between appends as runs do (so each fsync has a new
// mtime and a grown size to write, not a no-op within the same clock tick),
// fsyncs, and prints the median, p10 and p90 of the fsync alone in ms.
//
//   fsync_bench FILE [--runs N] [--gap-us U] [--bytes B]
//
// FILE is created (0600) and removed at the end; it must not exist.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "timing.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fsync_bench FILE [--runs N] [--gap-us U] [--bytes B]\n");
    return 2;
  }
  const std::string file = argv[1];
  int runs = 200;
  long gap_us = 3000;
  std::size_t bytes = 1500;  // a launch's request, decision and start records
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--runs") runs = std::atoi(argv[i + 1]);
    else if (flag == "--gap-us") gap_us = std::atol(argv[i + 1]);
    else if (flag == "--bytes") bytes = std::strtoul(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "fsync_bench: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "fsync_bench: open(%s, O_CREAT|O_EXCL): %s\n", file.c_str(), std::strerror(errno));
    return 1;
  }
  std::string line(bytes - 1, 'x');
  line += '\n';
  std::vector<double> samples;
  for (int i = 0; i < runs; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::fprintf(stderr, "fsync_bench: write(%s): %s\n", file.c_str(), std::strerror(errno));
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    if (::fsync(fd) != 0) {
      std::fprintf(stderr, "fsync_bench: fsync(%s): %s\n", file.c_str(), std::strerror(errno));
      break;
    }
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  ::close(fd);
  ::unlink(file.c_str());
  if (samples.empty()) return 1;
  std::printf("fsync %d x %zu bytes, %ld us apart: median %.3f p10 %.3f p90 %.3f ms\n", static_cast<int>(samples.size()),
              bytes, gap_us, tierbox::bench::percentile(samples, 0.5), tierbox::bench::percentile(samples, 0.1),
              tierbox::bench::percentile(samples, 0.9));
  return static_cast<int>(samples.size()) == runs ? 0 : 1;
}
