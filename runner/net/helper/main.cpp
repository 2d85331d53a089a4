// tierbox-net: the network helper of tierbox. The tierbox binary is a static
// executable and Debian ships no static libmnl, so everything that programs
// the kernel over netlink (veth pairs, addresses, routes, nftables through
// libnftnl) lives here, in a dynamically linked program that only
// allowlist runs pay for. The runner starts it with fd 3 a SOCK_SEQPACKET
// channel (net/channel.h) and speaks JSON over it.
//
//   tierbox-net session   one run: prepare, attach (with the sandbox's netns
//                         fd), finish. fd 4 is the run slot's lock, fd 5
//                         the slot's host-wide id lock (runner/launch/
//                         run_slot.h), both held until the helper exits. If
//                         the runner goes away (EOF), the helper removes
//                         what it made and exits.
//   tierbox-net isolate   cut a running sandbox's network (incident response)
//   tierbox-net clean     remove what a dead run left (tierbox gc)
//   tierbox-net rules     print the rules for a run record read on stdin
//
// Every reply is {"ok": true, ...} or {"ok": false, "error": "one line"}.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "net/channel.h"
#include "net/helper/operations.h"
#include "net/helper/resolver.h"
#include "net/ruleset.h"
#include "net/run_network.h"

namespace {

using nlohmann::json;
using namespace tierbox::net;

constexpr int kChannel = kHelperChannelFd;

void reply(const json& message) {
  // A runner that is gone cannot be told; the work is done either way.
  (void)send_message(kChannel, message.dump());
}

json failure(const std::exception& error) { return {{"ok", false}, {"error", error.what()}}; }

// Milliseconds since start, for the runner's -v output.
double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// The next request, or nullopt when the runner closed the channel.
std::optional<std::pair<json, tierbox::UniqueFd>> next_request() {
  auto message = receive_message(kChannel, -1);
  if (message.end_of_file) return std::nullopt;
  return std::make_pair(json::parse(message.text), std::move(message.fd));
}

// Serves the run's resolver (if any) until the runner's next request
// arrives or its channel closes.
void serve_until_request(helper::RunSession& session) {
  while (true) {
    auto* resolver = session.resolver();
    if (!resolver) return;
    const int timeout = resolver->expire();
    pollfd fds[3] = {{kChannel, POLLIN, 0}, {resolver->listener_fd(), POLLIN, 0}, {resolver->upstream_fd(), POLLIN, 0}};
    const int ready = ::poll(fds, 3, timeout);
    if (ready < 0 && errno != EINTR) throw std::runtime_error(std::string("poll(helper channel, resolver): ") + std::strerror(errno));
    if (ready <= 0) continue;
    if (fds[2].revents) resolver->on_upstream_readable();
    if (fds[1].revents) resolver->on_query_readable();
    if (fds[0].revents) return;
  }
}

void remove_remaining(helper::RunSession& session) {
  try {
    session.remove_host_objects();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tierbox-net: cleaning up: %s (run `tierbox gc`)\n", error.what());
  }
}

int session() {
  auto first = next_request();
  if (!first) return 0;
  if (first->first.value("op", "") != "prepare") throw std::runtime_error("expected a prepare request first");
  const auto started = std::chrono::steady_clock::now();
  helper::RunSession session(run_network_from_json(first->first.at("network")));
  try {
    auto notes = session.prepare();
    reply({{"ok", true}, {"notes", notes}, {"ms", elapsed_ms(started)}});
  } catch (const std::exception& error) {
    reply(failure(error));
    remove_remaining(session);
    return 1;
  }
  while (true) {
    serve_until_request(session);
    auto request = next_request();
    if (!request) {  // the runner ended (or died) without finish
      remove_remaining(session);
      return 0;
    }
    const auto op = request->first.value("op", "");
    try {
      if (op == "attach") {
        if (!request->second) throw std::runtime_error("attach without the sandbox's network namespace fd");
        const auto attach_started = std::chrono::steady_clock::now();
        session.attach(std::move(request->second));
        reply({{"ok", true}, {"ms", elapsed_ms(attach_started)}});
      } else if (op == "finish") {
        reply({{"ok", true}, {"report", session.finish().to_json()}});
        // The runner may exit now; this process keeps the run's slot (fds 4
        // and 5) until the veth pair is gone too.
        remove_remaining(session);
        return 0;
      } else {
        throw std::runtime_error("unknown request " + op);
      }
    } catch (const std::exception& error) {
      reply(failure(error));
    }
  }
}

int one_shot(const std::string& verb) {
  auto request = next_request();
  if (!request) return 1;
  try {
    const auto network = run_network_from_json(request->first.at("network"));
    if (verb == "isolate") {
      helper::isolate(network, request->first.at("sandbox_pid").get<pid_t>());
      reply({{"ok", true}});
    } else {
      const int lent_lock = ::fcntl(kChannel + 1, F_GETFD) >= 0 ? kChannel + 1 : -1;
      reply({{"ok", true}, {"removed", helper::clean(network, lent_lock)}});
    }
    return 0;
  } catch (const std::exception& error) {
    reply(failure(error));
    return 1;
  }
}

// For people: the rules a run record stands for, in nft syntax.
int print_rules() {
  const json record = json::parse(std::string(std::istreambuf_iterator<char>(std::cin), {}));
  const auto network = run_network_from_json(record.contains("network") ? record["network"] : record);
  EgressPolicy policy;
  policy.allow = network.allow;
  policy.addresses = network.addresses;
  policy.pool = network.pool;
  policy.names = network.names;
  std::cout << "# in the sandbox's network namespace\n" << to_text(sandbox_table(policy));
  std::cout << "# on the host, in table inet " << kTableName << " (host addresses are added at launch)\n";
  for (const auto& chain : host_run_chains(policy)) std::cout << to_text(chain);
  std::cout << "# the host-wide part, made once\n" << to_text(host_base_table());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Terminal signals are not for the helper: it must outlive a Ctrl-C of the
  // runner long enough to clean up (it is in a session of its own anyway).
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  const std::string verb = argc == 2 ? argv[1] : "";
  try {
    if (verb == "session") return session();
    if (verb == "isolate" || verb == "clean") return one_shot(verb);
    if (verb == "rules") return print_rules();
  } catch (const std::exception& error) {
    reply(failure(error));
    std::fprintf(stderr, "tierbox-net: %s\n", error.what());
    return 1;
  }
  std::fprintf(stderr, "usage: tierbox-net session|isolate|clean|rules (started by tierbox, not by hand)\n");
  return 2;
}
