#include "net/helper/operations.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <set>
#include <stdexcept>

#include "net/helper/links.h"
#include "net/helper/netlink.h"
#include "net/helper/nft_messages.h"
#include "net/helper/resolver.h"

namespace tierbox::net::helper {
namespace {

std::runtime_error system_error(const std::string& call) { return std::runtime_error(call + ": " + errno_text(errno)); }

UniqueFd open_namespace(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw system_error("open(" + path + ")");
  return fd;
}

// The helper's current network namespace becomes the sandbox's for the
// scope, and the host's again after it. Sockets opened inside stay inside.
class InNamespace {
 public:
  InNamespace(int target, int home) : home_(home) {
    if (::setns(target, CLONE_NEWNET) != 0) throw system_error("setns(sandbox network namespace, CLONE_NEWNET)");
  }
  ~InNamespace() {
    // Carrying on in the wrong namespace would put host objects into the
    // sandbox: better to stop here (the runner then reports the failure).
    if (::setns(home_, CLONE_NEWNET) != 0) ::_exit(70);
  }
  InNamespace(const InNamespace&) = delete;
  InNamespace& operator=(const InNamespace&) = delete;

 private:
  int home_;
};

// ip_forward is host-wide: set once, on first use, and left set (docs/network.md).
bool ensure_ip_forward() {
  const char* path = "/proc/sys/net/ipv4/ip_forward";
  UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
  if (!fd) throw system_error(std::string("open(") + path + ")");
  char value = '0';
  if (::read(fd.get(), &value, 1) != 1) throw system_error(std::string("read(") + path + ")");
  if (value == '1') return false;
  if (::pwrite(fd.get(), "1\n", 2, 0) != 2) throw system_error(std::string("write(") + path + ", 1)");
  return true;
}

void send_batch(NetlinkSocket& socket, NftBatch& batch) {
  batch.finish();
  socket.skip_to(batch.end_sequence());
  socket.transact(batch.data(), batch.size(), [&](std::uint32_t sequence) { return batch.describe(sequence); });
}

int try_batch(NetlinkSocket& socket, NftBatch& batch) {
  batch.finish();
  socket.skip_to(batch.end_sequence());
  return socket.try_transact(batch.data(), batch.size());
}

bool host_table_exists(NetlinkSocket& socket) {
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  std::unique_ptr<nftnl_table, decltype(&nftnl_table_free)> table(nftnl_table_alloc(), &nftnl_table_free);
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, kTableName);
  nftnl_table_set_u32(table.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
  auto* header = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, socket.next_sequence());
  nftnl_table_nlmsg_build_payload(header, table.get());
  try {
    socket.query(header, header->nlmsg_len, [](const nlmsghdr*) {}, std::string("look up table inet ") + kTableName);
    return true;
  } catch (const NetlinkError& error) {
    if (error.err() == ENOENT) return false;
    throw;
  }
}

// The host-wide table is made in one transaction whose first message fails
// with EEXIST when it exists: concurrent first runs agree on one maker. It is
// looked up first: a failed transaction that held base chains costs an RCU
// grace period (~10 ms) to undo.
bool ensure_host_table(NetlinkSocket& socket) {
  if (host_table_exists(socket)) return false;
  NftBatch batch(socket.next_sequence());
  batch.add_table(host_base_table(), true);
  const int err = try_batch(socket, batch);
  if (err == 0) return true;
  if (err == EEXIST) return false;
  throw NetlinkError(std::string("create table inet ") + kTableName + " on the host: " + errno_text(err), err);
}

// A subnet's host objects are named after it (tbxTAG, sandbox-TAG-*), so
// every state_dir on the same network_pool hands its slot N the same names,
// while the slot lock that proves a slot's earlier run dead is per
// state_dir. This lock, one per subnet for the whole host, is held by the
// helper of the live run that uses the names: without it, a run of another
// state_dir took them too, and each one's setup removed the other's objects
// as a crashed run's leftovers (docs/network.md).
constexpr const char* kSubnetLockDir = "/run/tierbox-subnets";

UniqueFd open_subnet_lock(const AddressPlan& addresses) {
  if (::mkdir(kSubnetLockDir, 0700) != 0 && errno != EEXIST) throw system_error(std::string("mkdir(") + kSubnetLockDir + ")");
  const auto path = std::string(kSubnetLockDir) + "/" + addresses.tag + ".lock";
  UniqueFd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) throw system_error("open(" + path + ")");
  return lock;
}

// Whether the subnet's lock was taken (false: a live run's helper holds it).
bool take_subnet_lock(const UniqueFd& lock, const AddressPlan& addresses) {
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) return true;
  if (errno != EWOULDBLOCK) throw system_error("flock(" + std::string(kSubnetLockDir) + "/" + addresses.tag + ".lock, LOCK_EX)");
  return false;
}

void check_subnet_is_free(const std::vector<HostRoute>& routes, const AddressPlan& addresses, const Ipv4Cidr& pool) {
  for (const auto& route : routes) {
    if (route.interface == addresses.host_interface) continue;  // this slot's own leftover, reclaimed below
    if (route.interface.rfind(kHostInterfacePrefix, 0) == 0 && pool.contains(route.destination)) continue;
    if (route.destination.overlaps(addresses.subnet))
      throw std::runtime_error("the sandbox subnet " + addresses.subnet.to_string() + " (network_pool " +
                               pool.to_string() + ") overlaps the host route " + route.destination.to_string() +
                               " dev " + route.interface + " (fix: set network_pool in tierbox.json to an unused range)");
  }
}

std::pair<std::uint64_t, std::uint64_t> read_counter(NetlinkSocket& socket, const char* name) {
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  std::unique_ptr<nftnl_obj, decltype(&nftnl_obj_free)> request(nftnl_obj_alloc(), &nftnl_obj_free);
  nftnl_obj_set_str(request.get(), NFTNL_OBJ_TABLE, kTableName);
  nftnl_obj_set_str(request.get(), NFTNL_OBJ_NAME, name);
  nftnl_obj_set_u32(request.get(), NFTNL_OBJ_FAMILY, NFPROTO_INET);
  nftnl_obj_set_u32(request.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  auto* header = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETOBJ, NFPROTO_INET, 0, socket.next_sequence());
  nftnl_obj_nlmsg_build_payload(header, request.get());
  std::pair<std::uint64_t, std::uint64_t> values{0, 0};
  socket.query(
      header, header->nlmsg_len,
      [&](const nlmsghdr* message) {
        std::unique_ptr<nftnl_obj, decltype(&nftnl_obj_free)> counter(nftnl_obj_alloc(), &nftnl_obj_free);
        if (nftnl_obj_nlmsg_parse(message, counter.get()) < 0) return;
        values = {nftnl_obj_get_u64(counter.get(), NFTNL_OBJ_CTR_PKTS), nftnl_obj_get_u64(counter.get(), NFTNL_OBJ_CTR_BYTES)};
      },
      std::string("read counter ") + name);
  return values;
}

std::vector<std::string> read_destinations(NetlinkSocket& socket, const char* set_name) {
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> request(nftnl_set_alloc(), &nftnl_set_free);
  nftnl_set_set_str(request.get(), NFTNL_SET_TABLE, kTableName);
  nftnl_set_set_str(request.get(), NFTNL_SET_NAME, set_name);
  nftnl_set_set_u32(request.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  auto* header = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, socket.next_sequence());
  nftnl_set_elems_nlmsg_build_payload(header, request.get());
  std::set<std::string> destinations;
  socket.query(
      header, header->nlmsg_len,
      [&](const nlmsghdr* message) {
        std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> set(nftnl_set_alloc(), &nftnl_set_free);
        if (nftnl_set_elems_nlmsg_parse(message, set.get()) < 0) return;
        auto* elements = nftnl_set_elems_iter_create(set.get());
        for (auto* element = nftnl_set_elems_iter_next(elements); element; element = nftnl_set_elems_iter_next(elements)) {
          std::uint32_t length = 0;
          const auto* key = static_cast<const std::uint8_t*>(nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &length));
          if (!key || length != 12) continue;
          std::uint32_t address;
          std::uint16_t port;
          std::memcpy(&address, key, 4);
          std::memcpy(&port, key + 8, 2);
          destinations.insert(format_destination(Ipv4Address{ntohl(address)}, key[4], ntohs(port)));
        }
        nftnl_set_elems_iter_destroy(elements);
      },
      std::string("read the set ") + set_name);
  return {destinations.begin(), destinations.end()};
}

// One host object of a run, and how to remove it on its own.
struct HostObject {
  std::string what;
  std::function<void(NftBatch&)> add_removal;
};

std::vector<HostObject> host_objects_of(const AddressPlan& addresses, std::size_t name_sets) {
  const auto interface = interface_key(addresses.host_interface);
  const auto address = address_key(addresses.sandbox_side);
  const auto egress = host_egress_chain(addresses);
  const auto ingress = host_ingress_chain(addresses);
  const std::string table = kTableName;
  std::vector<HostObject> objects = {
      {std::string(kEgressMap) + " element " + addresses.host_interface,
       [=](NftBatch& batch) { batch.delete_element(table, kEgressMap, interface); }},
      {std::string(kIngressMap) + " element " + addresses.host_interface,
       [=](NftBatch& batch) { batch.delete_element(table, kIngressMap, interface); }},
      {std::string(kSandboxInterfacesSet) + " element " + addresses.host_interface,
       [=](NftBatch& batch) { batch.delete_element(table, kSandboxInterfacesSet, interface); }},
      {std::string(kSandboxAddressesSet) + " element " + addresses.sandbox_side.to_string(),
       [=](NftBatch& batch) { batch.delete_element(table, kSandboxAddressesSet, address); }},
      {"chain " + egress, [=](NftBatch& batch) { batch.delete_chain(table, egress); }},
      {"chain " + ingress, [=](NftBatch& batch) { batch.delete_chain(table, ingress); }},
  };
  // After the chains, whose rules refer to them.
  for (std::size_t i = 0; i < name_sets; ++i) {
    const auto set = host_name_set(addresses, i);
    objects.push_back({"set " + set, [=](NftBatch& batch) { batch.delete_set(table, set); }});
  }
  return objects;
}

// Everything in one transaction when it is all there (the normal end of a
// run); otherwise object by object, skipping what is already gone.
std::vector<std::string> remove_rules(NetlinkSocket& netfilter, const AddressPlan& addresses, std::size_t name_sets) {
  std::vector<std::string> removed;
  const auto objects = host_objects_of(addresses, name_sets);
  NftBatch all(netfilter.next_sequence());
  for (const auto& object : objects) object.add_removal(all);
  int err = try_batch(netfilter, all);
  if (err == 0) {
    for (const auto& object : objects) removed.push_back("nft " + object.what);
  } else {
    for (const auto& object : objects) {
      NftBatch one(netfilter.next_sequence());
      object.add_removal(one);
      err = try_batch(netfilter, one);
      if (err == 0) removed.push_back("nft " + object.what);
      else if (err != ENOENT) throw NetlinkError("remove nft " + object.what + ": " + errno_text(err), err);
    }
  }
  return removed;
}

// Removing the host end removes the pair (and the routes through it). The
// kernel takes its time here (~20 ms: unregistering a device waits for RCU
// grace periods), which is why finish() answers before this.
std::vector<std::string> remove_link(NetlinkSocket& route, const AddressPlan& addresses) {
  if (Links(route).delete_link(addresses.host_interface)) return {"veth " + addresses.host_interface};
  return {};
}

std::vector<std::string> remove_objects(NetlinkSocket& netfilter, NetlinkSocket& route, const AddressPlan& addresses,
                                        std::size_t name_sets) {
  auto removed = remove_rules(netfilter, addresses, name_sets);
  for (auto& line : remove_link(route, addresses)) removed.push_back(std::move(line));
  return removed;
}

EgressPolicy policy_of(const RunNetwork& network) {
  EgressPolicy policy;
  policy.allow = network.allow;
  policy.addresses = network.addresses;
  policy.pool = network.pool;
  policy.names = network.names;
  return policy;
}

}  // namespace

RunSession::RunSession(RunNetwork network)
    : network_(std::move(network)),
      policy_(policy_of(network_)),
      host_netns_(open_namespace("/proc/self/ns/net")),
      host_route_(std::make_unique<NetlinkSocket>(NETLINK_ROUTE)),
      host_netfilter_(std::make_unique<NetlinkSocket>(NETLINK_NETFILTER)) {}

RunSession::~RunSession() = default;

std::vector<std::string> RunSession::prepare() {
  std::vector<std::string> notes;
  if (ensure_ip_forward()) notes.push_back("host-wide: net.ipv4.ip_forward set to 1 (first use)");
  if (ensure_host_table(*host_netfilter_)) notes.push_back(std::string("host-wide: table inet ") + kTableName + " created (first use)");
  Links links(*host_route_);
  policy_.host_addresses = links.local_addresses();
  check_subnet_is_free(links.routes(), network_.addresses, network_.pool);
  // Before anything is made or removed: the names may be a live run's.
  subnet_lock_ = open_subnet_lock(network_.addresses);
  if (!take_subnet_lock(subnet_lock_, network_.addresses))
    throw std::runtime_error("the sandbox subnet " + network_.addresses.subnet.to_string() + " (network_pool " +
                             network_.pool.to_string() + ", run slot " + std::to_string(network_.slot) +
                             ") is in use by a live run of another state_dir, with the same interface and chain names "
                             "(fix: give each state_dir its own network_pool in tierbox.json, docs/network.md)");
  host_objects_made_ = true;
  add_run_chains();
  return notes;
}

void RunSession::add_run_chains() {
  const auto& addresses = network_.addresses;
  const auto chains = host_run_chains(policy_);
  const auto sets = host_run_sets(policy_);
  const auto fill = [&](NftBatch& batch) {
    batch.add_sets(kTableName, sets);
    for (const auto& chain : chains) batch.add_chain(kTableName, chain);
    const auto interface = interface_key(addresses.host_interface);
    batch.add_element(kTableName, kEgressMap, interface, ElementVerdict{true, host_egress_chain(addresses)});
    batch.add_element(kTableName, kIngressMap, interface, ElementVerdict{true, host_ingress_chain(addresses)});
    batch.add_element(kTableName, kSandboxInterfacesSet, interface);
    batch.add_element(kTableName, kSandboxAddressesSet, address_key(addresses.sandbox_side));
  };
  NftBatch first(host_netfilter_->next_sequence());
  fill(first);
  const int err = try_batch(*host_netfilter_, first);
  if (err == 0) return;
  // EEXIST: a crashed run of this slot left its objects; the slot's lock,
  // which this run holds, proves that run is dead. Remove them and start
  // afresh. (Any other error: the retry fails again and names the message.)
  if (err == EEXIST) remove_objects(*host_netfilter_, *host_route_, addresses, network_.names.size());
  NftBatch again(host_netfilter_->next_sequence());
  fill(again);
  send_batch(*host_netfilter_, again);
}

void RunSession::attach(UniqueFd sandbox_netns) {
  sandbox_netns_ = std::move(sandbox_netns);
  const auto& addresses = network_.addresses;
  Links host(*host_route_);
  try {
    host.create_veth(addresses.host_interface, kSandboxInterface, sandbox_netns_.get());
  } catch (const NetlinkError& error) {
    if (error.err() != EEXIST) throw;
    host.delete_link(addresses.host_interface);  // a dead run's, as above
    host.create_veth(addresses.host_interface, kSandboxInterface, sandbox_netns_.get());
  }
  const unsigned index = interface_index(addresses.host_interface);
  if (index == 0) throw system_error("if_nametoindex(" + addresses.host_interface + ")");
  host.disable_ipv6_addresses(index);
  host.add_address(index, addresses.host_side, kRunSubnetPrefix);
  host.set_up(index, true);
  auto listener = configure_sandbox_side();
  // Back in the host's namespace: the resolver's upstream socket is the host's.
  if (listener)
    resolver_ = std::make_unique<Resolver>(network_, policy_, std::move(listener),
                                           [this](std::size_t entry, Ipv4Address address, std::uint32_t seconds) {
                                             open_address(entry, address, seconds);
                                           });
}

UniqueFd RunSession::configure_sandbox_side() {
  const auto& addresses = network_.addresses;
  InNamespace inside(sandbox_netns_.get(), host_netns_.get());
  // The rules first: eth0 comes up with them already in force.
  sandbox_netfilter_ = std::make_unique<NetlinkSocket>(NETLINK_NETFILTER);
  NftBatch batch(sandbox_netfilter_->next_sequence());
  batch.add_table(sandbox_table(policy_), true);
  send_batch(*sandbox_netfilter_, batch);
  NetlinkSocket route(NETLINK_ROUTE);
  Links links(route);
  const unsigned index = interface_index(kSandboxInterface);
  if (index == 0) throw system_error(std::string("if_nametoindex(") + kSandboxInterface + ") in the sandbox");
  links.disable_ipv6_addresses(index);
  links.add_address(index, addresses.sandbox_side, kRunSubnetPrefix);
  links.set_up(index, true);
  links.add_default_route(index, addresses.host_side);
  // The resolver's listener belongs to the sandbox's namespace (its lo).
  return network_.names.empty() ? UniqueFd() : open_resolver_listener();
}

namespace {

// Adds the element with its timeout, or gives one that is there (answered
// before) the new timeout: removed and added again in one transaction
// (kernels before 6.x cannot update an element's timeout in place). The
// caller's belief whether it is there picks the first attempt; the kernel
// may have expired it meanwhile, or (after a restart of nothing: the set is
// the run's own) hold it still, and the other attempt follows. A failed
// transaction costs the kernel far more than a lookup here, which is why
// the caller keeps that belief.
void add_with_timeout(NetlinkSocket& socket, const std::string& set, Ipv4Address address, std::uint64_t timeout_ms,
                      bool present) {
  const auto key = address_key(address);
  const auto attempt = [&](bool renew) {
    NftBatch batch(socket.next_sequence());
    if (renew) batch.delete_element(kTableName, set, key);
    batch.add_element_with_timeout(kTableName, set, key, timeout_ms);
    return try_batch(socket, batch);
  };
  int err = attempt(present);
  if ((present && err == ENOENT) || (!present && err == EEXIST)) err = attempt(!present);
  if (err != 0) throw NetlinkError("add " + address.to_string() + " to set " + set + ": " + errno_text(err), err);
}

}  // namespace

// The host's copy first: a packet the sandbox lets out must pass there too.
// An address still open for at least half the new timeout is left as it is:
// a task that asks for the same name again and again costs no netlink
// transaction (tools/bench/dns.sh).
void RunSession::open_address(std::size_t entry, Ipv4Address address, std::uint32_t seconds) {
  const auto now = std::chrono::steady_clock::now();
  const auto timeout = std::chrono::seconds(seconds);
  auto& expiry = opened_until_[{entry, address.value}];
  const bool present = expiry > now;
  if (present && expiry - now >= timeout / 2) return;
  const std::uint64_t timeout_ms = static_cast<std::uint64_t>(seconds) * 1000;
  expiry = {};  // unknown until both sets have it
  add_with_timeout(*host_netfilter_, host_name_set(network_.addresses, entry), address, timeout_ms, present);
  add_with_timeout(*sandbox_netfilter_, sandbox_name_set(entry), address, timeout_ms, present);
  expiry = now + timeout;
}

NetworkReport RunSession::finish() {
  NetworkReport report;
  report.mode = "allowlist";
  if (sandbox_netfilter_) {
    std::tie(report.allowed_packets, report.allowed_bytes) = read_counter(*sandbox_netfilter_, kAllowedCounter);
    report.dropped_packets = read_counter(*sandbox_netfilter_, kDroppedCounter).first;
    report.dropped_destinations = read_destinations(*sandbox_netfilter_, kDroppedSet);
    report.connected_destinations = read_destinations(*sandbox_netfilter_, kConnectedSet);
  }
  if (resolver_) {
    resolver_->stop();
    report.dns = resolver_->report();
  }
  if (host_objects_made_) remove_rules(*host_netfilter_, network_.addresses, network_.names.size());
  rules_removed_ = true;
  return report;
}

std::vector<std::string> RunSession::remove_host_objects() {
  if (!host_objects_made_) return {};
  if (resolver_) resolver_->stop();
  auto removed = rules_removed_ ? remove_link(*host_route_, network_.addresses)
                                : remove_objects(*host_netfilter_, *host_route_, network_.addresses, network_.names.size());
  host_objects_made_ = false;
  return removed;
}

void isolate(const RunNetwork& network, pid_t sandbox_pid) {
  auto sandbox = open_namespace("/proc/" + std::to_string(sandbox_pid) + "/ns/net");
  struct stat st {};
  if (::fstat(sandbox.get(), &st) != 0) throw system_error("fstat(sandbox network namespace)");
  if (network.netns_inode == 0 || st.st_ino != network.netns_inode)
    throw std::runtime_error("pid " + std::to_string(sandbox_pid) + " is not the sandbox of run " + network.run_id +
                             " any more (its network namespace differs): the run has ended");
  auto home = open_namespace("/proc/self/ns/net");
  {
    InNamespace inside(sandbox.get(), home.get());
    NetlinkSocket netfilter(NETLINK_NETFILTER);
    NftBatch batch(netfilter.next_sequence());
    for (const auto& chain : isolated_sandbox_chains()) batch.replace_rules(kTableName, chain);
    send_batch(netfilter, batch);
  }
  // Then the host side: the run's map entries become drop, its link goes down.
  NetlinkSocket netfilter(NETLINK_NETFILTER);
  const auto interface = interface_key(network.addresses.host_interface);
  NftBatch batch(netfilter.next_sequence());
  for (const char* map : {kEgressMap, kIngressMap}) {
    batch.delete_element(kTableName, map, interface);
    batch.add_element(kTableName, map, interface, ElementVerdict{false, ""});
  }
  send_batch(netfilter, batch);
  NetlinkSocket route(NETLINK_ROUTE);
  if (const unsigned index = interface_index(network.addresses.host_interface)) Links(route).set_up(index, false);
}

std::vector<std::string> clean(const RunNetwork& network, int inherited_lock) {
  // A runner cleaning its own run after a failed helper lends its lock
  // (the same open file, so flock grants it); gc does not, and takes it.
  UniqueFd lock(inherited_lock >= 0 ? ::dup(inherited_lock)
                                    : ::open(network.slot_lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) throw system_error("open(" + network.slot_lock + ")");
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throw system_error("flock(" + network.slot_lock + ", LOCK_EX)");
    // A live process holds the slot: a new run, which has taken the names
    // over (and removed what it found), or this run's helper, still
    // removing them. Either way, nothing here is gc's to touch.
    return {};
  }
  // The same for a live run of another state_dir on the same pool.
  const auto subnet_lock = open_subnet_lock(network.addresses);
  if (!take_subnet_lock(subnet_lock, network.addresses)) return {};
  NetlinkSocket netfilter(NETLINK_NETFILTER);
  NetlinkSocket route(NETLINK_ROUTE);
  return remove_objects(netfilter, route, network.addresses, network.names.size());
}

}  // namespace tierbox::net::helper
