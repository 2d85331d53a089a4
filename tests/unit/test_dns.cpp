// The run's resolver's pure parts: DNS wire parsing (hostile input
// included), wildcard matching, the rebinding defence, TTL clamping, the
// query budget, and the rules and sets for names.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "net/destination.h"
#include "net/dns_message.h"
#include "net/resolver_policy.h"
#include "net/ruleset.h"

using namespace tierbox::net;
namespace dns = tierbox::net::dns;

namespace {

using Bytes = std::vector<std::uint8_t>;

Ipv4Address ip(const char* text) { return *parse_ipv4(text); }

void put_name(Bytes& out, const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<std::uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out.push_back(0);
}

Bytes header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an, std::uint16_t ns = 0,
             std::uint16_t ar = 0) {
  return {static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), static_cast<std::uint8_t>(flags >> 8),
          static_cast<std::uint8_t>(flags), 0, static_cast<std::uint8_t>(qd), 0, static_cast<std::uint8_t>(an), 0,
          static_cast<std::uint8_t>(ns), 0, static_cast<std::uint8_t>(ar)};
}

Bytes query_for(const std::string& name, std::uint16_t type = dns::kTypeA) {
  Bytes out = header(0x1234, 0x0100, 1, 0);
  put_name(out, name);
  out.insert(out.end(), {0, static_cast<std::uint8_t>(type), 0, 1});
  return out;
}

// An A record whose owner is a pointer to offset 12 (the question's name).
void put_a(Bytes& out, std::uint16_t owner_pointer, const char* address, std::uint32_t ttl) {
  out.insert(out.end(), {static_cast<std::uint8_t>(0xc0 | owner_pointer >> 8), static_cast<std::uint8_t>(owner_pointer), 0, 1,
                         0, 1, static_cast<std::uint8_t>(ttl >> 24), static_cast<std::uint8_t>(ttl >> 16),
                         static_cast<std::uint8_t>(ttl >> 8), static_cast<std::uint8_t>(ttl), 0, 4});
  const auto value = ip(address).value;
  out.insert(out.end(), {static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
                         static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)});
}

dns::Question question(const std::string& name) { return {name, dns::kTypeA, dns::kClassIn}; }

std::string failure_of(const std::variant<dns::Query, dns::ParseFailure>& parsed) {
  const auto* failure = std::get_if<dns::ParseFailure>(&parsed);
  return failure ? failure->why : "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dns_messages)

BOOST_AUTO_TEST_CASE(a_query_is_read_and_a_fresh_one_built_from_its_question_alone) {
  auto message = query_for("Api.Example.com");
  auto parsed = dns::parse_query(message);
  BOOST_TEST_REQUIRE(std::holds_alternative<dns::Query>(parsed), failure_of(parsed));
  const auto& query = std::get<dns::Query>(parsed);
  BOOST_TEST(query.id == 0x1234);
  BOOST_TEST(query.recursion_desired);
  BOOST_TEST(query.question.name == "Api.Example.com");
  BOOST_TEST(query.question.type == dns::kTypeA);
  auto upstream = dns::build_query(0x9999, query.question);
  Bytes expected = message;
  expected[0] = 0x99;
  expected[1] = 0x99;
  BOOST_TEST(upstream == expected);
  // An EDNS OPT record beside the question is accepted (and not forwarded).
  auto with_opt = message;
  with_opt[11] = 1;
  with_opt.insert(with_opt.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
  auto edns = dns::parse_query(with_opt);
  BOOST_TEST_REQUIRE(std::holds_alternative<dns::Query>(edns), failure_of(edns));
  BOOST_TEST(std::get<dns::Query>(edns).edns_udp_size == dns::kMaxEdnsUdpSize);  // 0x1000 (4096) offered, capped
  auto forwarded = dns::build_query(5, std::get<dns::Query>(edns).question, std::get<dns::Query>(edns).edns_udp_size);
  auto reparsed = dns::parse_query(forwarded);
  BOOST_TEST_REQUIRE(std::holds_alternative<dns::Query>(reparsed), failure_of(reparsed));
  BOOST_TEST(std::get<dns::Query>(reparsed).edns_udp_size == dns::kMaxEdnsUdpSize);
  // Any other additional record fails.
  auto not_opt = message;
  not_opt[11] = 1;
  not_opt.insert(not_opt.end(), {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4});
  BOOST_TEST(failure_of(dns::parse_query(not_opt)).find("OPT") != std::string::npos);
  auto refused = dns::build_empty_answer(query, dns::Rcode::refused);
  BOOST_TEST((refused[3] & 0x0f) == 5);
  BOOST_TEST((refused[2] & 0x80) == 0x80);
  BOOST_TEST(refused.size() == message.size());
}

BOOST_AUTO_TEST_CASE(hostile_queries_fail_without_reading_outside_the_message) {
  BOOST_TEST(!failure_of(dns::parse_query(Bytes{1, 2, 3})).empty());
  // A pointer to itself, a pointer forwards, and two pointers to each other.
  auto loop = header(1, 0x0100, 1, 0);
  loop.insert(loop.end(), {0xc0, 12, 0, 1, 0, 1});
  BOOST_TEST(failure_of(dns::parse_query(loop)).find("compression pointer") != std::string::npos);
  auto forward = header(1, 0x0100, 1, 0);
  forward.insert(forward.end(), {0xc0, 14, 0, 0, 1, 0, 1});
  BOOST_TEST(failure_of(dns::parse_query(forward)).find("compression pointer") != std::string::npos);
  auto cut = query_for("example.com");
  cut.resize(cut.size() - 3);
  BOOST_TEST(!failure_of(dns::parse_query(cut)).empty());
  auto label_past_end = header(1, 0x0100, 1, 0);
  label_past_end.insert(label_past_end.end(), {63, 'a', 'b'});
  BOOST_TEST(failure_of(dns::parse_query(label_past_end)).find("past the end") != std::string::npos);
  // Over-long names and labels, and bytes that would read as a dot: REFUSED.
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
  long_name += "com";
  auto too_long = dns::parse_query(query_for(long_name));
  BOOST_TEST_REQUIRE(std::holds_alternative<dns::ParseFailure>(too_long));
  BOOST_TEST((std::get<dns::ParseFailure>(too_long).rcode == dns::Rcode::refused));
  auto long_label = header(1, 0x0100, 1, 0);
  long_label.push_back(0x40);  // a 64-byte label is a reserved label type
  long_label.insert(long_label.end(), 70, 'a');
  BOOST_TEST(!failure_of(dns::parse_query(long_label)).empty());
  auto dotted = header(1, 0x0100, 1, 0);
  dotted.insert(dotted.end(), {3, 'a', '.', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1});
  BOOST_TEST(failure_of(dns::parse_query(dotted)).find("label") != std::string::npos);
  BOOST_TEST(!failure_of(dns::parse_query(header(1, 0x8100, 1, 0))).empty());   // a response
  BOOST_TEST(!failure_of(dns::parse_query(header(1, 0x2900, 1, 0))).empty());   // opcode 5 (UPDATE)
  BOOST_TEST(!failure_of(dns::parse_query(header(1, 0x0100, 2, 0))).empty());   // two questions
}

BOOST_AUTO_TEST_CASE(answers_give_the_addresses_of_the_name_and_its_cname_chain) {
  auto message = query_for("www.example.com");
  message[2] = 0x81;
  message[3] = 0x80;
  message[7] = 4;
  // www.example.com CNAME cdn.example.net (written out), two A records of
  // cdn (through a pointer), a direct A of www.
  const std::size_t cname_owner = 12;
  message.insert(message.end(), {0xc0, static_cast<std::uint8_t>(cname_owner), 0, 5, 0, 1, 0, 0, 0, 60, 0, 17});
  const std::size_t target = message.size();
  put_name(message, "cdn.example.net");
  put_a(message, static_cast<std::uint16_t>(target), "198.51.100.7", 30);
  put_a(message, static_cast<std::uint16_t>(target), "198.51.100.9", 30);
  put_a(message, 12, "198.51.100.8", 7200);
  auto parsed = dns::parse_response(message, question("WWW.example.com"));
  BOOST_TEST_REQUIRE(std::holds_alternative<dns::Response>(parsed));
  const auto& response = std::get<dns::Response>(parsed);
  BOOST_TEST(response.id == 0x1234);
  BOOST_TEST_REQUIRE(response.cname_chain.size() == 1u);
  BOOST_TEST(response.cname_chain[0] == "cdn.example.net");
  BOOST_TEST_REQUIRE(response.addresses.size() == 3u);
  BOOST_TEST(response.addresses[0].address.to_string() == "198.51.100.7");
  BOOST_TEST(response.addresses[0].ttl == 30u);
  BOOST_TEST(response.addresses[2].ttl == 7200u);
  // Another question's answer, a cut record, a query instead of an answer.
  BOOST_TEST(std::holds_alternative<dns::ParseFailure>(dns::parse_response(message, question("other.example.com"))));
  auto cut = message;
  cut.resize(cut.size() - 2);
  BOOST_TEST(std::holds_alternative<dns::ParseFailure>(dns::parse_response(cut, question("www.example.com"))));
  BOOST_TEST(std::holds_alternative<dns::ParseFailure>(dns::parse_response(query_for("www.example.com"), question("www.example.com"))));
  auto relayed = dns::with_id(message, 0x4321);
  BOOST_TEST(relayed[0] == 0x43);
  BOOST_TEST(relayed[1] == 0x21);
}

BOOST_AUTO_TEST_CASE(an_a_record_of_a_name_outside_the_chain_opens_nothing) {
  auto message = query_for("api.example.com");
  message[2] = 0x81;
  message[7] = 1;
  put_name(message, "evil.example.org");
  message.insert(message.end(), {0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1});
  auto parsed = dns::parse_response(message, question("api.example.com"));
  BOOST_TEST_REQUIRE(std::holds_alternative<dns::Response>(parsed));
  BOOST_TEST(std::get<dns::Response>(parsed).addresses.empty());
}

// The fuzz corpus (tools/fuzz/dns_message.sh) replayed without libFuzzer:
// every input parses or fails, never throws.
BOOST_AUTO_TEST_CASE(the_fuzz_corpus_is_handled) {
  const auto corpus = std::filesystem::path(TIERBOX_SOURCE_DIR) / "tools/fuzz/corpus/dns_message";
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const Bytes data{std::istreambuf_iterator<char>(in), {}};
    BOOST_CHECK_NO_THROW(dns::parse_query(data));
    BOOST_CHECK_NO_THROW(dns::parse_response(data, question("example.com")));
    ++inputs;
  }
  BOOST_TEST(inputs >= 4);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dns_policy)

BOOST_AUTO_TEST_CASE(wildcards_match_one_or_more_labels_never_the_bare_domain) {
  BOOST_TEST(name_matches("*.example.com", "a.example.com"));
  BOOST_TEST(name_matches("*.example.com", "a.b.EXAMPLE.com"));
  BOOST_TEST(!name_matches("*.example.com", "example.com"));
  BOOST_TEST(!name_matches("*.example.com", "aexample.com"));
  BOOST_TEST(!name_matches("*.example.com", "a.example.com.evil.org"));
  BOOST_TEST(!name_matches("*.example.com", ".example.com"));
  BOOST_TEST(name_matches("api.example.com", "API.example.com"));
  BOOST_TEST(!name_matches("api.example.com", "x.api.example.com"));
  auto parsed = parse_destination("*.GitHubUserContent.com:443/tcp");
  BOOST_TEST_REQUIRE(std::holds_alternative<Destination>(parsed));
  BOOST_TEST(std::get<Destination>(parsed).host_name == "*.githubusercontent.com");
  BOOST_TEST(std::get<Destination>(parsed).wildcard);
  const std::vector<NameRule> names = {{"api.example.com", {443, 443}, Protocol::tcp, "a"},
                                       {"*.example.com", {80, 80}, Protocol::tcp, "b"}};
  BOOST_TEST((matching_names(names, "api.example.com") == std::vector<std::size_t>{0, 1}));
  BOOST_TEST((matching_names(names, "example.com").empty()));
}

BOOST_AUTO_TEST_CASE(answers_into_denied_ranges_are_refused_unless_listed_by_address) {
  EgressPolicy policy;
  policy.pool = *parse_ipv4_cidr("10.210.0.0/16");
  policy.host_addresses = {ip("192.0.2.2")};
  for (const char* address : {"169.254.169.254", "10.0.0.5", "127.0.0.1", "172.16.3.4", "192.168.1.1", "224.0.0.1",
                              "100.100.100.200", "192.0.2.2", "10.210.0.1", "0.0.0.0"})
    BOOST_TEST(rebinding_refusal(ip(address), policy).has_value(), address);
  BOOST_TEST(!rebinding_refusal(ip("198.51.100.7"), policy).has_value());
  // Listed by address: the block (inside the denied range) and the host's exact address.
  policy.allow = {{*parse_ipv4_cidr("10.20.0.0/16"), {5432, 5432}, Protocol::tcp, true, "10.20.0.0/16:5432/tcp"},
                  {*parse_ipv4_cidr("192.0.2.2/32"), {80, 80}, Protocol::tcp, true, "192.0.2.2:80/tcp"}};
  BOOST_TEST(!rebinding_refusal(ip("10.20.1.1"), policy).has_value());
  BOOST_TEST(rebinding_refusal(ip("10.21.1.1"), policy).has_value());
  BOOST_TEST(!rebinding_refusal(ip("192.0.2.2"), policy).has_value());
  // The pool never, and a wide public block does not open a denied range.
  policy.allow.push_back({*parse_ipv4_cidr("0.0.0.0/0"), {443, 443}, Protocol::tcp, true, "0.0.0.0/0:443/tcp"});
  BOOST_TEST(rebinding_refusal(ip("10.210.0.1"), policy).has_value());
  BOOST_TEST(rebinding_refusal(ip("169.254.169.254"), policy).has_value());
}

BOOST_AUTO_TEST_CASE(ttls_are_clamped_and_the_budget_refills) {
  ResolverSettings settings;
  settings.min_ttl_seconds = 60;
  settings.max_ttl_seconds = 3600;
  BOOST_TEST(clamped_ttl(0, settings) == 60u);
  BOOST_TEST(clamped_ttl(300, settings) == 300u);
  BOOST_TEST(clamped_ttl(86400, settings) == 3600u);
  QueryBudget budget(10);
  int taken = 0;
  for (int i = 0; i < 100; ++i) taken += budget.take(1000);
  BOOST_TEST(taken == 20);  // the burst
  BOOST_TEST(!budget.take(1050));
  BOOST_TEST(budget.take(1100));  // 100 ms later: one more
}

BOOST_AUTO_TEST_CASE(names_get_a_set_each_and_an_accept_after_the_refusals) {
  EgressPolicy policy;
  policy.pool = *parse_ipv4_cidr("10.210.0.0/16");
  policy.addresses.tag = "0ad20000";
  policy.names = {{"*.example.com", {443, 443}, Protocol::tcp, "*.example.com:443/tcp"}};
  const auto text = to_text(sandbox_table(policy));
  BOOST_TEST(text.find("set name-0 { type ipv4_addr; flags timeout; size 4096; }") != std::string::npos, text);
  const auto accept = text.find("ip daddr @name-0 meta l4proto tcp th dport 443 counter name \"allowed\" accept");
  const auto metadata = text.find("ip daddr 169.254.0.0/16 goto refuse");
  BOOST_TEST_REQUIRE(accept != std::string::npos, text);
  BOOST_TEST(metadata < accept);
  BOOST_TEST(text.find("ip daddr @name-0 meta l4proto tcp th dport 443 add @connected_destinations") != std::string::npos, text);
  std::string host;
  for (const auto& chain : host_run_chains(policy)) host += to_text(chain);
  BOOST_TEST(host.find("ip daddr @sandbox-0ad20000-name-0 meta l4proto tcp th dport 443 accept") != std::string::npos, host);
  BOOST_TEST_REQUIRE(host_run_sets(policy).size() == 1u);
  BOOST_TEST(host_run_sets(policy)[0].name == "sandbox-0ad20000-name-0");
  // Isolated: the resolver on lo is cut before lo is accepted.
  std::string isolated;
  for (const auto& chain : isolated_sandbox_chains()) isolated += to_text(chain);
  BOOST_TEST(isolated.find("meta oif 1 ip daddr 127.0.0.53 meta l4proto udp th dport 53") < isolated.find("meta oif 1 accept"),
             isolated);
}

BOOST_AUTO_TEST_SUITE_END()
