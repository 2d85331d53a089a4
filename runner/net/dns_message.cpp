#include "net/dns_message.h"

#include <algorithm>

#include "net/destination.h"

namespace tierbox::net::dns {
namespace {

constexpr std::uint16_t kFlagResponse = 0x8000;
constexpr std::uint16_t kFlagTruncated = 0x0200;
constexpr std::uint16_t kFlagRecursionDesired = 0x0100;
constexpr std::uint16_t kFlagRecursionAvailable = 0x0080;
constexpr std::uint16_t kOpcodeMask = 0x7800;
// A message cannot hold more compression jumps than it has bytes; the
// backwards-only rule already ends every walk, this bounds the work anyway.
constexpr int kMaxJumps = 64;

// Reads big-endian values at an offset, failing (false) instead of reading
// past the end.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  [[nodiscard]] std::size_t size() const { return bytes_.size(); }
  bool u8(std::size_t at, std::uint8_t& out) const {
    if (at >= bytes_.size()) return false;
    out = bytes_[at];
    return true;
  }
  bool u16(std::size_t at, std::uint16_t& out) const {
    if (at + 2 > bytes_.size() || at + 2 < at) return false;
    out = static_cast<std::uint16_t>(bytes_[at] << 8 | bytes_[at + 1]);
    return true;
  }
  bool u32(std::size_t at, std::uint32_t& out) const {
    std::uint16_t high = 0, low = 0;
    if (!u16(at, high) || !u16(at + 2, low)) return false;
    out = static_cast<std::uint32_t>(high) << 16 | low;
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

bool allowed_label_byte(std::uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

enum class NameError { none, truncated, bad_pointer, too_long, bad_label };

// Reads the name at `at` into dotted text; `end` is where the name ends at
// its first place (after the first pointer, or after the root label).
// Pointers must point strictly before the label that holds them: every
// jump goes backwards, so a walk ends.
NameError read_name(const Reader& reader, std::size_t at, std::string& name, std::size_t& end, bool strict_labels) {
  name.clear();
  std::size_t position = at;
  std::size_t wire_length = 0;
  bool jumped = false;
  int jumps = 0;
  while (true) {
    std::uint8_t length = 0;
    if (!reader.u8(position, length)) return NameError::truncated;
    if ((length & 0xc0) == 0xc0) {
      std::uint8_t low = 0;
      if (!reader.u8(position + 1, low)) return NameError::truncated;
      const std::size_t target = static_cast<std::size_t>(length & 0x3f) << 8 | low;
      if (target >= position || ++jumps > kMaxJumps) return NameError::bad_pointer;
      if (!jumped) end = position + 2;
      jumped = true;
      position = target;
      continue;
    }
    if ((length & 0xc0) != 0) return NameError::bad_label;  // 0x40, 0x80: extended and reserved label types
    wire_length += 1 + length;
    if (wire_length > kMaxNameBytes) return NameError::too_long;
    if (length == 0) {
      if (!jumped) end = position + 1;
      return NameError::none;
    }
    if (position + 1 + length > reader.size()) return NameError::truncated;
    if (!name.empty()) name += '.';
    for (std::size_t i = 0; i < length; ++i) {
      std::uint8_t c = 0;
      reader.u8(position + 1 + i, c);
      if (strict_labels && !allowed_label_byte(c)) return NameError::bad_label;
      // Outside strict reading (records of an answer), a byte that would
      // read differently as text is replaced: such a name matches nothing.
      name += allowed_label_byte(c) ? static_cast<char>(c) : '?';
    }
    position += 1 + length;
  }
}

const char* name_error_text(NameError error) {
  switch (error) {
    case NameError::none: return "";
    case NameError::truncated: return "the name runs past the end of the message";
    case NameError::bad_pointer: return "a compression pointer that does not point backwards";
    case NameError::too_long: return "a name longer than 255 bytes";
    case NameError::bad_label: return "a label with a byte other than a letter, digit, '-' or '_', or a reserved label type";
  }
  return "";
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

void put_header(std::vector<std::uint8_t>& out, std::uint16_t id, std::uint16_t flags, std::uint16_t questions) {
  put16(out, id);
  put16(out, flags);
  put16(out, questions);
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
}

// The question as the wire wants it; the name was checked when it was read
// (labels of 1-63 allowed bytes, 255 bytes in all).
void put_question(std::vector<std::uint8_t>& out, const Question& question) {
  std::size_t start = 0;
  while (start < question.name.size()) {
    auto dot = question.name.find('.', start);
    if (dot == std::string::npos) dot = question.name.size();
    const auto label_length = std::min(dot - start, kMaxLabelBytes);
    out.push_back(static_cast<std::uint8_t>(label_length));
    out.insert(out.end(), question.name.begin() + static_cast<long>(start),
               question.name.begin() + static_cast<long>(start + label_length));
    start = dot + 1;
  }
  out.push_back(0);
  put16(out, question.type);
  put16(out, question.klass);
}

bool same_name(const std::string& a, const std::string& b) { return equal_ignoring_case(a, b); }

}  // namespace

std::variant<Query, ParseFailure> parse_query(std::span<const std::uint8_t> message) {
  Reader reader(message);
  ParseFailure failure;
  if (message.size() < kHeaderBytes) {
    failure.why = "shorter than a DNS header";
    return failure;
  }
  std::uint16_t id = 0, flags = 0, questions = 0, answers = 0, authorities = 0, additional = 0;
  reader.u16(0, id);
  reader.u16(2, flags);
  reader.u16(4, questions);
  reader.u16(6, answers);
  reader.u16(8, authorities);
  reader.u16(10, additional);
  failure.id_known = true;
  failure.id = id;
  if (flags & kFlagResponse) {
    failure.why = "a response, not a query";
    return failure;
  }
  if (flags & kOpcodeMask) {
    failure.why = "not a standard query (opcode " + std::to_string((flags & kOpcodeMask) >> 11) + ")";
    failure.rcode = Rcode::notimp;
    return failure;
  }
  if (questions != 1 || answers != 0 || authorities != 0 || additional > 1) {
    failure.why = "not exactly one question (or records beside it)";
    return failure;
  }
  Query query;
  query.id = id;
  query.recursion_desired = (flags & kFlagRecursionDesired) != 0;
  std::size_t end = 0;
  const auto error = read_name(reader, kHeaderBytes, query.question.name, end, true);
  if (error != NameError::none) {
    failure.why = std::string("the question: ") + name_error_text(error);
    if (error == NameError::too_long || error == NameError::bad_label) failure.rcode = Rcode::refused;
    return failure;
  }
  if (!reader.u16(end, query.question.type) || !reader.u16(end + 2, query.question.klass)) {
    failure.why = "the question's type and class are cut off";
    return failure;
  }
  if (additional == 1) {
    // OPT: the root name, type 41, class = the UDP size; its TTL and data
    // (extended flags, options) are not forwarded.
    std::uint8_t root = 0xff;
    std::uint16_t type = 0, size = 0, length = 0;
    const std::size_t at = end + 4;
    if (!reader.u8(at, root) || root != 0 || !reader.u16(at + 1, type) || type != kTypeOpt || !reader.u16(at + 3, size) ||
        !reader.u16(at + 9, length) || at + 11 + length > message.size()) {
      failure.why = "an additional record that is not an EDNS OPT record";
      return failure;
    }
    query.edns_udp_size = std::clamp<std::uint16_t>(size, 512, kMaxEdnsUdpSize);
  }
  return query;
}

std::vector<std::uint8_t> build_query(std::uint16_t id, const Question& question, std::uint16_t edns_udp_size) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderBytes + question.name.size() + 17);
  put_header(out, id, kFlagRecursionDesired, 1);
  put_question(out, question);
  if (edns_udp_size) {
    out[11] = 1;  // ARCOUNT
    out.push_back(0);  // the root name
    put16(out, kTypeOpt);
    put16(out, edns_udp_size);
    put16(out, 0);  // extended rcode, version 0
    put16(out, 0);  // flags
    put16(out, 0);  // no options
  }
  return out;
}

std::vector<std::uint8_t> build_empty_answer(const Query& query, Rcode rcode) {
  std::vector<std::uint8_t> out;
  const std::uint16_t flags = kFlagResponse | kFlagRecursionAvailable |
                              (query.recursion_desired ? kFlagRecursionDesired : 0) | static_cast<std::uint16_t>(rcode);
  put_header(out, query.id, flags, 1);
  put_question(out, query.question);
  return out;
}

std::vector<std::uint8_t> build_header_only_answer(std::uint16_t id, Rcode rcode) {
  std::vector<std::uint8_t> out;
  put_header(out, id, kFlagResponse | kFlagRecursionAvailable | static_cast<std::uint16_t>(rcode), 0);
  return out;
}

std::variant<Response, ParseFailure> parse_response(std::span<const std::uint8_t> message, const Question& asked) {
  Reader reader(message);
  ParseFailure failure;
  if (message.size() < kHeaderBytes) {
    failure.why = "shorter than a DNS header";
    return failure;
  }
  Response response;
  std::uint16_t flags = 0, questions = 0, answers = 0;
  reader.u16(0, response.id);
  reader.u16(2, flags);
  reader.u16(4, questions);
  reader.u16(6, answers);
  failure.id_known = true;
  failure.id = response.id;
  if (!(flags & kFlagResponse)) {
    failure.why = "not a response";
    return failure;
  }
  response.rcode = static_cast<Rcode>(flags & 0x000f);
  response.truncated = (flags & kFlagTruncated) != 0;
  if (questions != 1) {
    failure.why = "not exactly one question";
    return failure;
  }
  Question question;
  std::size_t position = 0;
  if (read_name(reader, kHeaderBytes, question.name, position, false) != NameError::none ||
      !reader.u16(position, question.type) || !reader.u16(position + 2, question.klass)) {
    failure.why = "unreadable question";
    return failure;
  }
  position += 4;
  if (!same_name(question.name, asked.name) || question.type != asked.type || question.klass != asked.klass) {
    failure.why = "the answer is to another question";
    return failure;
  }
  // The records, collected first: a CNAME may come after the A records of
  // its target.
  struct Record {
    std::string owner;
    std::uint16_t type;
    std::uint32_t ttl;
    std::size_t data;
    std::uint16_t length;
  };
  std::vector<Record> records;
  for (std::uint16_t i = 0; i < answers; ++i) {
    Record record{};
    std::uint16_t klass = 0;
    if (read_name(reader, position, record.owner, position, false) != NameError::none ||
        !reader.u16(position, record.type) || !reader.u16(position + 2, klass) || !reader.u32(position + 4, record.ttl) ||
        !reader.u16(position + 8, record.length) || position + 10 + record.length > message.size()) {
      failure.why = "answer record " + std::to_string(i + 1) + " is cut off or unreadable";
      return failure;
    }
    record.data = position + 10;
    position = record.data + record.length;
    if (klass == kClassIn) records.push_back(std::move(record));
  }
  // Follow the chain from the question's name: at most as many steps as
  // there are records, so a CNAME loop ends.
  std::string current = asked.name;
  std::vector<std::string> chain{current};
  for (std::size_t step = 0; step <= records.size(); ++step) {
    const auto cname = std::find_if(records.begin(), records.end(), [&](const Record& record) {
      return record.type == kTypeCname && same_name(record.owner, current);
    });
    if (cname == records.end()) break;
    std::string target;
    std::size_t ignored = 0;
    if (read_name(reader, cname->data, target, ignored, false) != NameError::none) {
      failure.why = "unreadable CNAME";
      return failure;
    }
    if (std::any_of(chain.begin(), chain.end(), [&](const std::string& seen) { return same_name(seen, target); })) break;
    chain.push_back(target);
    response.cname_chain.push_back(target);
    current = target;
  }
  for (const auto& record : records) {
    if (record.type != kTypeA || record.length != 4) continue;
    if (std::none_of(chain.begin(), chain.end(), [&](const std::string& name) { return same_name(name, record.owner); }))
      continue;
    std::uint32_t value = 0;
    reader.u32(record.data, value);
    response.addresses.push_back({Ipv4Address{value}, record.ttl});
  }
  return response;
}

std::vector<std::uint8_t> with_id(std::span<const std::uint8_t> message, std::uint16_t id) {
  std::vector<std::uint8_t> out(message.begin(), message.end());
  if (out.size() >= 2) {
    out[0] = static_cast<std::uint8_t>(id >> 8);
    out[1] = static_cast<std::uint8_t>(id & 0xff);
  }
  return out;
}

}  // namespace tierbox::net::dns
