#include "net/helper/links.h"

#include <net/if.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace tierbox::net::helper {
namespace {

struct Request {
  std::vector<char> buffer = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* header;

  Request(std::uint16_t type, std::uint16_t flags, std::uint32_t sequence) {
    header = mnl_nlmsg_put_header(buffer.data());
    header->nlmsg_type = type;
    header->nlmsg_flags = NLM_F_REQUEST | flags;
    header->nlmsg_seq = sequence;
  }
  template <typename T>
  T* extra() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(header, sizeof(T)));
  }
};

// mnl_attr_for_each, written for C++ (the macro assigns a void*).
template <typename Fn>
void for_each_attribute(const nlmsghdr* message, std::size_t header_size, Fn&& fn) {
  const auto* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(message));
  for (auto* attribute = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(message, header_size));
       mnl_attr_ok(attribute, static_cast<int>(end - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute))
    fn(attribute);
}

void send(NetlinkSocket& socket, const Request& request, const std::string& what) {
  socket.transact(request.header, request.header->nlmsg_len, [&](std::uint32_t) { return what; });
}

}  // namespace

unsigned interface_index(const std::string& name) { return ::if_nametoindex(name.c_str()); }

void Links::create_veth(const std::string& host_name, const std::string& peer_name, int peer_netns_fd) {
  Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, socket_.next_sequence());
  request.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(request.header, IFLA_IFNAME, host_name.c_str());
  auto* link_info = mnl_attr_nest_start(request.header, IFLA_LINKINFO);
  mnl_attr_put_strz(request.header, IFLA_INFO_KIND, "veth");
  auto* info_data = mnl_attr_nest_start(request.header, IFLA_INFO_DATA);
  auto* peer = mnl_attr_nest_start(request.header, VETH_INFO_PEER);
  // The peer's attributes follow its own ifinfomsg.
  auto* peer_info = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload_tail(request.header));
  std::memset(peer_info, 0, sizeof *peer_info);
  request.header->nlmsg_len += MNL_ALIGN(sizeof *peer_info);
  mnl_attr_put_strz(request.header, IFLA_IFNAME, peer_name.c_str());
  mnl_attr_put_u32(request.header, IFLA_NET_NS_FD, static_cast<std::uint32_t>(peer_netns_fd));
  mnl_attr_nest_end(request.header, peer);
  mnl_attr_nest_end(request.header, info_data);
  mnl_attr_nest_end(request.header, link_info);
  send(socket_, request, "create veth " + host_name + " (peer " + peer_name + " in the sandbox)");
}

void Links::disable_ipv6_addresses(unsigned index) {
  Request request(RTM_NEWLINK, NLM_F_ACK, socket_.next_sequence());
  auto* info = request.extra<ifinfomsg>();
  info->ifi_family = AF_UNSPEC;
  info->ifi_index = static_cast<int>(index);
  auto* spec = mnl_attr_nest_start(request.header, IFLA_AF_SPEC);
  auto* inet6 = mnl_attr_nest_start(request.header, AF_INET6);
  mnl_attr_put_u8(request.header, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  mnl_attr_nest_end(request.header, inet6);
  mnl_attr_nest_end(request.header, spec);
  const int err = socket_.try_transact(request.header, request.header->nlmsg_len);
  if (err == 0 || err == EAFNOSUPPORT || err == EOPNOTSUPP) return;  // no IPv6 on this kernel or device
  throw NetlinkError("set addrgenmode none on interface " + std::to_string(index) + ": " + errno_text(err), err);
}

void Links::add_address(unsigned index, Ipv4Address address, int prefix) {
  Request request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, socket_.next_sequence());
  auto* info = request.extra<ifaddrmsg>();
  info->ifa_family = AF_INET;
  info->ifa_prefixlen = static_cast<unsigned char>(prefix);
  info->ifa_scope = RT_SCOPE_UNIVERSE;
  info->ifa_index = index;
  const std::uint32_t bytes = address.network_order();
  mnl_attr_put_u32(request.header, IFA_LOCAL, bytes);
  mnl_attr_put_u32(request.header, IFA_ADDRESS, bytes);
  send(socket_, request, "add address " + address.to_string() + "/" + std::to_string(prefix) + " to interface " + std::to_string(index));
}

void Links::set_up(unsigned index, bool up) {
  Request request(RTM_NEWLINK, NLM_F_ACK, socket_.next_sequence());
  auto* info = request.extra<ifinfomsg>();
  info->ifi_family = AF_UNSPEC;
  info->ifi_index = static_cast<int>(index);
  info->ifi_flags = up ? IFF_UP : 0;
  info->ifi_change = IFF_UP;
  send(socket_, request, std::string("set interface ") + std::to_string(index) + (up ? " up" : " down"));
}

void Links::add_default_route(unsigned index, Ipv4Address gateway) {
  Request request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, socket_.next_sequence());
  auto* route = request.extra<rtmsg>();
  route->rtm_family = AF_INET;
  route->rtm_table = RT_TABLE_MAIN;
  route->rtm_protocol = RTPROT_STATIC;
  route->rtm_scope = RT_SCOPE_UNIVERSE;
  route->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(request.header, RTA_GATEWAY, gateway.network_order());
  mnl_attr_put_u32(request.header, RTA_OIF, index);
  send(socket_, request, "add default route via " + gateway.to_string());
}

bool Links::delete_link(const std::string& name) {
  Request request(RTM_DELLINK, NLM_F_ACK, socket_.next_sequence());
  request.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(request.header, IFLA_IFNAME, name.c_str());
  const int err = socket_.try_transact(request.header, request.header->nlmsg_len);
  if (err == 0) return true;
  if (err == ENODEV) return false;
  throw NetlinkError("delete interface " + name + ": " + errno_text(err), err);
}

std::vector<Ipv4Address> Links::local_addresses() {
  Request request(RTM_GETADDR, NLM_F_DUMP, socket_.next_sequence());
  request.extra<ifaddrmsg>()->ifa_family = AF_INET;
  std::vector<Ipv4Address> addresses;
  socket_.query(
      request.header, request.header->nlmsg_len,
      [&](const nlmsghdr* message) {
        if (message->nlmsg_type != RTM_NEWADDR) return;
        for_each_attribute(message, sizeof(ifaddrmsg), [&](const nlattr* attribute) {
          if (mnl_attr_get_type(attribute) == IFA_LOCAL && mnl_attr_get_payload_len(attribute) == 4)
            addresses.push_back(Ipv4Address{ntohl(mnl_attr_get_u32(attribute))});
        });
      },
      "list the host's addresses");
  return addresses;
}

std::vector<HostRoute> Links::routes() {
  Request request(RTM_GETROUTE, NLM_F_DUMP, socket_.next_sequence());
  request.extra<rtmsg>()->rtm_family = AF_INET;
  std::vector<HostRoute> routes;
  socket_.query(
      request.header, request.header->nlmsg_len,
      [&](const nlmsghdr* message) {
        if (message->nlmsg_type != RTM_NEWROUTE) return;
        const auto* route = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(message));
        if (route->rtm_type != RTN_UNICAST || route->rtm_dst_len == 0) return;
        std::uint32_t table = route->rtm_table;
        std::uint32_t destination = 0;
        unsigned index = 0;
        for_each_attribute(message, sizeof(rtmsg), [&](const nlattr* attribute) {
          switch (mnl_attr_get_type(attribute)) {
            case RTA_TABLE: table = mnl_attr_get_u32(attribute); break;
            case RTA_DST: destination = ntohl(mnl_attr_get_u32(attribute)); break;
            case RTA_OIF: index = mnl_attr_get_u32(attribute); break;
            default: break;
          }
        });
        if (table != RT_TABLE_MAIN) return;
        char name[IF_NAMESIZE] = {};
        if (index) ::if_indextoname(index, name);
        routes.push_back({Ipv4Cidr{Ipv4Address{destination}, route->rtm_dst_len}, name});
      },
      "list the host's routes");
  return routes;
}

}  // namespace tierbox::net::helper
