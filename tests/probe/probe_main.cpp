// tierbox-probe's entry point: reads the command line and dispatches to the command.
//
// tierbox-probe: runs inside a sandbox and reports, as one JSON object on
// stdout, what it can see and do from there. Integration tests assert on the
// report; every attempt that must fail is made for real and its errno kept.
//
//   tierbox-probe info                 identity, capabilities, namespaces, mounts, fds, ...
//   tierbox-probe write PATH...        try to create a file in (or open for writing) each PATH
//   tierbox-probe read PATH...         try to read each PATH
//   tierbox-probe mkdir PATH...        try to create each directory
//   tierbox-probe remove PATH...       try to remove each PATH
//   tierbox-probe rename FROM TO       try to rename FROM to TO
//   tierbox-probe read-through-symlink TARGET LINK   make LINK -> TARGET, read through LINK
//   tierbox-probe tiocsti              push a character into the terminal on fd 0
//   tierbox-probe escape               try the known ways back to the host's filesystem
//   tierbox-probe loopback             serve and connect over 127.0.0.1 inside the sandbox
//   tierbox-probe connect HOST PORT    TCP connect (fails fast, 2 s timeout)
//   tierbox-probe connect-many HOST:PORT...   the same for each (HOST "gateway": the default gateway)
//   tierbox-probe exchange tcp|udp HOST PORT  connect (HOST may be a name), send, expect the echo back
//   tierbox-probe resolve NAME...      getaddrinfo(AF_INET) of each name
//   tierbox-probe resolve-after FILE NAME...  resolve, wait for FILE to exist, resolve again
//   tierbox-probe resolve6 NAME...     getaddrinfo(AF_INET6) of each name
//   tierbox-probe exchange-after FILE tcp|udp NAME PORT OLD
//                                      exchange, say "probe: exchanged", wait for FILE,
//                                      exchange again, then TCP connect to the address OLD
//   tierbox-probe dns-flood N SUFFIX   N A queries for fI.SUFFIX to 127.0.0.53, unanswered
//   tierbox-probe hold HOST PORT FILE  exchange over TCP, say "probe: holding" on stderr, wait
//                                      for FILE, exchange again on the same connection, then
//                                      try a new connection
//   tierbox-probe net-admin HOST:PORT...  try to take eth0 down and to delete the nft table,
//                                      then connect-many
//   tierbox-probe connect-abstract NAME   connect to an abstract unix socket
//   tierbox-probe connect-unix PATH    connect to a unix socket at PATH
//   tierbox-probe orphans N            fork N orphans that exit; report zombies left
//   tierbox-probe fill PATH BYTES      write BYTES into PATH, report how far it got
//   tierbox-probe keyring SERIAL DESC  read a key, search the session keyring
//   tierbox-probe clocks               the clocks, uptime, boot and start times; try to change the offsets
//   tierbox-probe limits               /proc/self/limits and /proc/self/cgroup, parsed
//   tierbox-probe forkbomb SECONDS [MARKER]   every process forks as fast as it can for SECONDS;
//                                      report how many forks failed (EAGAIN) in the first process
//   tierbox-probe hog BYTES            allocate and touch BYTES, 1 MiB at a time, report progress on stderr
//   tierbox-probe spin SECONDS THREADS busy-loop THREADS threads for SECONDS; report CPU and wall time
//   tierbox-probe stubborn             ignore SIGTERM and double-fork a grandchild that does too; never ends
//   tierbox-probe stream HOST PORT     a UDP datagram to HOST:PORT every 10 ms, forever
//   tierbox-probe watch DIR SECONDS    an inotify watch on DIR: "result" and the names "opened" there
//   tierbox-probe syscall NR [ARG...]  a raw syscall with numeric arguments: "ok" or the errno name
//   tierbox-probe blocked [NAME...]    attempt each always-blocked syscall (all, or the
//                                      named ones), each in a child process: "ok", the
//                                      errno name, or "killed:SIGSYS" (docs/seccomp.md)
#include "probe.h"

#include <iostream>
#include <string>
#include <vector>

using namespace probe;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: tierbox-probe info|write|read|mkdir|remove|rename|read-through-symlink|tiocsti|escape|loopback|"
                 "connect|connect-many|exchange|exchange-after|resolve|resolve6|resolve-after|dns-flood|hold|net-admin|connect-abstract|connect-unix|"
                 "orphans|fill|keyring|clocks|limits|forkbomb|hog|spin|stubborn|stream|syscall|blocked ...\n";
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
  else if (command == "resolve6") report = resolve6(args);
  else if (command == "resolve-after" && args.size() >= 2)
    report = resolve_after(args[0], std::vector<std::string>(args.begin() + 1, args.end()));
  else if (command == "exchange-after" && args.size() == 5)
    report = exchange_after(args[0], args[1], args[2], std::stoi(args[3]), args[4]);
  else if (command == "dns-flood" && args.size() == 2) report = dns_flood(std::stoi(args[0]), args[1]);
  else if (command == "hold" && args.size() == 3) report = hold(args[0], std::stoi(args[1]), args[2]);
  else if (command == "net-admin") report = net_admin(args);
  else if (command == "orphans" && args.size() == 1) report = orphans(std::stoi(args[0]));
  else if (command == "fill" && args.size() == 2) report = fill(args[0], std::stoll(args[1]));
  else if (command == "keyring" && args.size() == 2) report = keyring(std::stol(args[0]), args[1]);
  else if (command == "limits") report = limits();
  else if (command == "clocks") report = clocks();
  else if (command == "forkbomb" && !args.empty()) report = forkbomb(std::stod(args[0]));
  else if (command == "hog" && args.size() == 1) report = hog(std::stoll(args[0]));
  else if (command == "spin" && args.size() == 2) report = spin(std::stod(args[0]), std::stoi(args[1]));
  else if (command == "blocked") report = blocked(args);
  else if (command == "stubborn") report = stubborn();
  else if (command == "stream" && args.size() == 2) report = stream(args[0], std::stoi(args[1]));
  else if (command == "syscall" && !args.empty() && args.size() <= 7) report = raw_syscall(args);
  else if (command == "watch" && args.size() == 2) report = watch_directory(args[0], std::stoi(args[1]));
  else {
    std::cerr << "tierbox-probe: unknown command " << command << "\n";
    return 2;
  }
  std::cout << report.dump() << std::endl;
  return 0;
}
