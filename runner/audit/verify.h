// `tierbox audit verify`: recomputes the hash chain of an audit log and
// names the first line that breaks it. Pure over a stream of lines, so every
// kind of tampering is unit-tested on text.
//
// A line breaks the chain when it is not a JSON record (unparsable), its
// hash is not the hash of its content (edited), its seq is not the previous
// one + 1 (a line removed, inserted or moved), or its prev is not the
// previous line's hash. A checkpoint record must sign the line before it
// with a trusted key. Checkpoints kept outside the log (`--checkpoints`)
// must match the line at their seq, which also detects lines cut from the
// end and a log rewritten as a whole.
//
// A run with a start record and no end record "ended unknown" (its runner
// died; `tierbox gc` appends the end): reported, not a broken chain.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tierbox::audit {

// The longest line read as a record: far above any real record (an argv at
// the kernel's ARG_MAX, 2 MiB, written as byte arrays), so that a log
// without newlines (a sparse file, a device) cannot grow memory without bound.
inline constexpr std::size_t kMaxRecordLineBytes = 16 << 20;

enum class LineRead {
  end,          // nothing more to read
  complete,     // a line and its newline
  no_newline,   // the last line, without a newline (a partial write)
  too_long,     // longer than the limit: skipped to its newline, not kept
};

// Reads one line (without its newline) into line, keeping at most max bytes.
LineRead read_bounded_line(std::istream& in, std::string& line, std::size_t max = kMaxRecordLineBytes);

// Every line of in that is a JSON object, in order; lines that are not (too
// long, unparsable) are skipped: `audit verify` is what names them.
std::vector<nlohmann::json> read_log_records(std::istream& in);

struct BadLine {
  std::uint64_t line = 0;  // 1-based line number in the file
  std::string reason;      // "hash mismatch: ...", "sequence gap: ...", "unparsable: ...", ...
};

struct OpenRun {
  std::uint64_t line = 0;  // of its start record
  std::string run_id;
  std::string ts;
  std::string tier;
};

struct VerifyReport {
  std::uint64_t records = 0;
  std::optional<BadLine> first_bad;
  std::vector<OpenRun> ended_unknown;  // start without end, in log order
  std::uint64_t checkpoints = 0;       // checkpoint records whose signature verified
  std::uint64_t external_checkpoints = 0;
  std::uint64_t head_seq = 0;
  std::string head_hash;
  [[nodiscard]] bool ok() const { return !first_bad; }
};

// Checks a checkpoint record's signature: "" when it verifies, else why not
// (unknown key, revoked, bad signature).
using CheckpointCheck = std::function<std::string(const nlohmann::json& checkpoint)>;

// expected: seq -> hash of checkpoints kept elsewhere (an empty map checks none).
VerifyReport verify_log(std::istream& in, const CheckpointCheck& check_checkpoint,
                        const std::map<std::uint64_t, std::string>& expected = {});

// What a checkpoint signs: the seq and hash of the line before it.
std::string checkpoint_message(std::uint64_t covers_seq, const std::string& covers_hash);

}  // namespace tierbox::audit
