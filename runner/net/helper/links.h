// Route-netlink operations of the helper: the veth pair, addresses, the
// sandbox's default route, and the dumps it reads (the host's addresses and
// routes). Each is one request with its ack on a socket of the namespace it
// acts in.
#pragma once

#include <string>
#include <vector>

#include "net/helper/netlink.h"
#include "net/ipv4.h"

namespace tierbox::net::helper {

struct HostRoute {
  Ipv4Cidr destination;
  std::string interface;
};

class Links {
 public:
  explicit Links(NetlinkSocket& socket) : socket_(socket) {}

  // A veth pair: host_name in this namespace, peer_name created directly in
  // the namespace of peer_netns_fd (never visible on the host).
  void create_veth(const std::string& host_name, const std::string& peer_name, int peer_netns_fd);
  // No IPv6 address will ever be generated on the interface (not even a
  // link-local one): sandboxes have no IPv6. Harmless where IPv6 is off.
  void disable_ipv6_addresses(unsigned index);
  void add_address(unsigned index, Ipv4Address address, int prefix);
  void set_up(unsigned index, bool up);
  void add_default_route(unsigned index, Ipv4Address gateway);
  // False when there was no such interface.
  bool delete_link(const std::string& name);

  std::vector<Ipv4Address> local_addresses();
  // IPv4 unicast routes of the main table, with a destination prefix.
  std::vector<HostRoute> routes();

 private:
  NetlinkSocket& socket_;
};

// The index of an interface of the calling process's current namespace, 0 if none.
unsigned interface_index(const std::string& name);

}  // namespace tierbox::net::helper
