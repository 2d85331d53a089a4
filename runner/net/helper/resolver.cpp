#include "net/helper/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "net/destination.h"
#include "net/helper/netlink.h"

namespace tierbox::net::helper {
namespace {

// A query the upstream has not answered in this time gets SERVFAIL (the
// task's stub resolver retries on its own).
constexpr auto kUpstreamTimeout = std::chrono::milliseconds(3000);
// Datagrams read per wake-up, from each socket.
constexpr int kReadsPerWake = 64;

std::runtime_error call_failed(const std::string& call) { return std::runtime_error(call + ": " + errno_text(errno)); }

std::string type_text(std::uint16_t type) {
  switch (type) {
    case dns::kTypeA: return "A";
    case dns::kTypeAaaa: return "AAAA";
    case dns::kTypeCname: return "CNAME";
    default: return "type-" + std::to_string(type);
  }
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

UniqueFd open_resolver_listener() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw call_failed("socket(AF_INET, SOCK_DGRAM) for the run's resolver");
  // lo may not be up yet (the sandbox brings it up itself): bind anyway.
  const int one = 1;
  if (::setsockopt(fd.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0)
    throw call_failed("setsockopt(IP_FREEBIND) for the run's resolver");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(kResolverPort);
  address.sin_addr.s_addr = parse_ipv4(kResolverAddress)->network_order();
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw call_failed(std::string("bind(") + kResolverAddress + ":53) in the sandbox's namespace");
  return fd;
}

Resolver::Resolver(const RunNetwork& network, const EgressPolicy& policy, UniqueFd listener, OpenAddress open)
    : network_(network),
      policy_(policy),
      listener_(std::move(listener)),
      open_(std::move(open)),
      budget_(network.resolver.queries_per_second) {
  // The upstream socket is the host's (the helper's own namespace).
  upstream_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!upstream_) throw call_failed("socket(AF_INET, SOCK_DGRAM) to the upstream resolver");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(network.resolver.upstream_port);
  address.sin_addr.s_addr = network.resolver.upstream.network_order();
  // connect: only the upstream's own datagrams are read back.
  if (::connect(upstream_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw call_failed("connect(upstream resolver " + network.resolver.upstream.to_string() + ")");
}

std::uint16_t Resolver::fresh_id() {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::uint16_t id = 0;
    if (::getrandom(&id, sizeof id, 0) != sizeof id) throw call_failed("getrandom");
    if (!pending_.count(id)) return id;
  }
  throw std::runtime_error("no free query id");
}

void Resolver::note(const std::string& name, std::uint16_t type, const std::string& outcome,
                    const std::vector<std::string>& addresses, const std::string& detail) {
  const auto type_name = type_text(type);
  auto it = std::find_if(report_.names.begin(), report_.names.end(), [&](const DnsNameReport& entry) {
    return entry.name == name && entry.type == type_name && entry.outcome == outcome;
  });
  if (it == report_.names.end()) {
    if (report_.names.size() >= kDnsReportEntries) return;
    report_.names.push_back({name, type_name, outcome, 0, {}, detail});
    it = report_.names.end() - 1;
  }
  ++it->count;
  for (const auto& address : addresses)
    if (std::find(it->addresses.begin(), it->addresses.end(), address) == it->addresses.end() && it->addresses.size() < 32)
      it->addresses.push_back(address);
  if (!detail.empty()) it->detail = detail;
}

void Resolver::note_opened(Ipv4Address address, std::size_t entry, std::uint32_t seconds) {
  const auto text = address.to_string();
  const auto& origin = network_.names[entry].origin;
  auto it = std::find_if(report_.opened.begin(), report_.opened.end(),
                         [&](const DnsOpenedAddress& opened) { return opened.address == text && opened.entry == origin; });
  if (it == report_.opened.end()) {
    if (report_.opened.size() >= kDnsReportEntries) return;
    report_.opened.push_back({text, origin, seconds, 0});
    it = report_.opened.end() - 1;
  }
  it->seconds = seconds;
  ++it->times;
}

void Resolver::answer(const std::vector<std::uint8_t>& message, const sockaddr_storage& client, socklen_t length) {
  // A task that does not read its answers loses them; nothing waits here.
  (void)::sendto(listener_.get(), message.data(), message.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&client),
                 length);
}

void Resolver::on_query_readable() {
  std::uint8_t buffer[dns::kMaxUdpMessage];
  for (int i = 0; i < kReadsPerWake && listener_; ++i) {
    sockaddr_storage client{};
    socklen_t length = sizeof client;
    const ssize_t got = ::recvfrom(listener_.get(), buffer, sizeof buffer, MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&client), &length);
    if (got < 0) return;  // EAGAIN, or nothing more to read
    handle_query({buffer, static_cast<std::size_t>(got)}, client, length);
  }
}

void Resolver::handle_query(std::span<const std::uint8_t> message, const sockaddr_storage& client, socklen_t length) {
  ++report_.queries;
  // Over its rate or with too many queries outstanding, a task's queries
  // are dropped unanswered: a flood costs this run's helper a read each and
  // no other run anything (each run has a resolver of its own).
  if (!budget_.take(now_ms()) || pending_.size() >= network_.resolver.outstanding) {
    ++report_.rate_limited;
    return;
  }
  auto parsed = dns::parse_query(message);
  if (auto* failure = std::get_if<dns::ParseFailure>(&parsed)) {
    ++report_.refused;
    note("(unreadable query)", 0, "refused", {}, failure->why);
    if (failure->id_known) answer(dns::build_header_only_answer(failure->id, failure->rcode), client, length);
    return;
  }
  auto& query = std::get<dns::Query>(parsed);
  const auto name = lower_case(query.question.name);
  const auto entries = matching_names(network_.names, name);
  const auto type = query.question.type;
  if (entries.empty() || query.question.klass != dns::kClassIn || (type != dns::kTypeA && type != dns::kTypeAaaa)) {
    ++report_.refused;
    note(name, type, "refused");
    answer(dns::build_empty_answer(query, dns::Rcode::refused), client, length);
    return;
  }
  if (type == dns::kTypeAaaa) {
    // Sandboxes have no IPv6: no address, at once, so the task goes on to A.
    ++report_.answered;
    note(name, type, "answered", {}, "no IPv6 in sandboxes: empty answer");
    answer(dns::build_empty_answer(query, dns::Rcode::noerror), client, length);
    return;
  }
  const auto id = fresh_id();
  // With the task's EDNS size, so an answer larger than 512 bytes comes
  // whole (this resolver speaks UDP only); it fits what the task offered.
  const auto upstream_query = dns::build_query(id, query.question, query.edns_udp_size);
  if (::send(upstream_.get(), upstream_query.data(), upstream_query.size(), MSG_DONTWAIT) < 0) {
    ++report_.failed;
    note(name, type, "failed", {}, "send to the upstream: " + errno_text(errno));
    answer(dns::build_empty_answer(query, dns::Rcode::servfail), client, length);
    return;
  }
  Pending pending;
  pending.query = std::move(query);
  pending.client = client;
  pending.client_length = length;
  pending.entries = entries;
  pending.deadline = std::chrono::steady_clock::now() + kUpstreamTimeout;
  pending_.emplace(id, std::move(pending));
}

void Resolver::on_upstream_readable() {
  std::uint8_t buffer[dns::kMaxUdpMessage];
  for (int i = 0; i < kReadsPerWake; ++i) {
    const ssize_t got = ::recv(upstream_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (got < 0) return;
    const std::span<const std::uint8_t> message{buffer, static_cast<std::size_t>(got)};
    if (got < 2) continue;
    const std::uint16_t id = static_cast<std::uint16_t>(buffer[0] << 8 | buffer[1]);
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // late, or not ours
    auto parsed = dns::parse_response(message, it->second.query.question);
    if (std::holds_alternative<dns::ParseFailure>(parsed)) continue;  // a forgery or garbage: the real answer may follow
    Pending pending = std::move(it->second);
    pending_.erase(it);
    const auto& response = std::get<dns::Response>(parsed);
    const auto name = lower_case(pending.query.question.name);
    std::vector<std::string> answered;
    std::string refusals;
    try {
      for (const auto& record : response.addresses) {
        answered.push_back(record.address.to_string());
        if (auto why = rebinding_refusal(record.address, policy_)) {
          ++report_.rebinding_refused;
          refusals += (refusals.empty() ? "" : "; ") + record.address.to_string() + ": " + *why;
          continue;
        }
        const auto seconds = clamped_ttl(record.ttl, network_.resolver);
        for (const auto entry : pending.entries) {
          open_(entry, record.address, seconds);
          note_opened(record.address, entry, seconds);
        }
      }
    } catch (const std::exception& error) {
      // Not opened: the task is told the name failed rather than given an
      // address it cannot reach.
      ++report_.failed;
      note(name, pending.query.question.type, "failed", answered, std::string("opening the address: ") + error.what());
      answer(dns::build_empty_answer(pending.query, dns::Rcode::servfail), pending.client, pending.client_length);
      continue;
    }
    if (!refusals.empty()) note(name, pending.query.question.type, "rebinding_refused", answered, refusals);
    else note(name, pending.query.question.type, "answered", answered);
    ++report_.answered;
    answer(dns::with_id(message, pending.query.id), pending.client, pending.client_length);
  }
}

int Resolver::expire() {
  const auto now = std::chrono::steady_clock::now();
  auto next = std::chrono::steady_clock::time_point::max();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      ++report_.failed;
      note(lower_case(it->second.query.question.name), it->second.query.question.type, "failed", {}, "the upstream did not answer");
      if (listener_)
        answer(dns::build_empty_answer(it->second.query, dns::Rcode::servfail), it->second.client, it->second.client_length);
      it = pending_.erase(it);
    } else {
      next = std::min(next, it->second.deadline);
      ++it;
    }
  }
  if (next == std::chrono::steady_clock::time_point::max()) return -1;
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()) + 1;
}

void Resolver::stop() {
  listener_.reset();
  pending_.clear();
}

}  // namespace tierbox::net::helper
