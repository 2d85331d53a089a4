#include "audit/verify.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"

namespace tierbox::audit {
namespace {

using json = nlohmann::json;

std::optional<std::string> chain_problem(const json& record, std::uint64_t expected_seq, const std::string& prev,
                                         std::uint64_t line) {
  if (!record.is_object() || !record.contains("seq") || !record["seq"].is_number_unsigned() || !record.contains("hash") ||
      !record["hash"].is_string() || !record.contains("prev") || !record["prev"].is_string())
    return "unparsable: not an audit record (seq, prev and hash are required)";
  if (record["hash"].get<std::string>() != record_hash(record))
    return "hash mismatch: the record's content does not match its hash (the line was edited)";
  const auto seq = record["seq"].get<std::uint64_t>();
  if (seq != expected_seq)
    return "sequence gap: seq " + std::to_string(seq) + " where " + std::to_string(expected_seq) +
           " was expected (a line was removed, inserted or moved)";
  if (record["prev"].get<std::string>() != prev)
    return "prev does not match the hash of line " + std::to_string(line - 1) +
           " (a line before it was changed, replaced or moved)";
  return std::nullopt;
}

std::optional<std::string> checkpoint_problem(const json& record, std::uint64_t seq, const std::string& prev,
                                              const CheckpointCheck& check) {
  if (record.value("covers_seq", std::uint64_t{0}) != seq - 1 || record.value("covers_hash", "") != prev)
    return "checkpoint: it does not cover the line before it";
  const auto why = check(record);
  if (!why.empty()) return "checkpoint: " + why;
  return std::nullopt;
}

void track_runs(const json& record, std::uint64_t line, std::map<std::string, OpenRun>& open) {
  const auto event = record.value("event", "");
  const auto run_id = record.value("run_id", "");
  if (run_id.empty()) return;
  if (event == "start") open[run_id] = {line, run_id, record.value("ts", ""), record.value("tier", "")};
  else if (event == "end") open.erase(run_id);
}

}  // namespace

LineRead read_bounded_line(std::istream& in, std::string& line, std::size_t max) {
  line.clear();
  char buffer[65536];
  bool read_any = false;
  while (true) {
    in.getline(buffer, sizeof buffer);
    const auto count = static_cast<std::size_t>(in.gcount());
    read_any = read_any || count > 0;
    if (in.eof()) {
      // The end of input before a newline (getline sets eofbit, not failbit,
      // when it read something).
      line.append(buffer, count);
      return read_any ? LineRead::no_newline : LineRead::end;
    }
    if (in.fail() && count == sizeof buffer - 1) {
      // The buffer filled before the newline: go on, within the limit.
      line.append(buffer, count);
      in.clear(in.rdstate() & ~std::ios::failbit);
      if (line.size() > max) {
        line.clear();
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
        return LineRead::too_long;
      }
      continue;
    }
    if (in.fail()) return LineRead::end;  // a read error
    line.append(buffer, count - 1);       // count includes the newline
    if (line.size() > max) {
      line.clear();
      return LineRead::too_long;
    }
    return LineRead::complete;
  }
}

std::vector<nlohmann::json> read_log_records(std::istream& in) {
  std::vector<nlohmann::json> records;
  std::string line;
  LineRead read;
  while ((read = read_bounded_line(in, line)) != LineRead::end) {
    if (read == LineRead::too_long) continue;  // not a record (audit verify names it)
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.is_object()) records.push_back(std::move(record));
  }
  return records;
}

std::string checkpoint_message(std::uint64_t covers_seq, const std::string& covers_hash) {
  return "tierbox-audit-checkpoint-v1\n" + std::to_string(covers_seq) + "\n" + covers_hash;
}

VerifyReport verify_log(std::istream& in, const CheckpointCheck& check_checkpoint,
                        const std::map<std::uint64_t, std::string>& expected) {
  VerifyReport report;
  std::string prev = kGenesisHash;
  std::uint64_t seq = 1;
  std::uint64_t line_number = 0;
  std::map<std::string, OpenRun> open;
  std::string line;
  LineRead read;
  while ((read = read_bounded_line(in, line)) != LineRead::end) {
    ++line_number;
    if (read == LineRead::too_long) {
      report.first_bad = BadLine{line_number, "unparsable: longer than " + std::to_string(kMaxRecordLineBytes) +
                                                  " bytes, not a record"};
      return report;
    }
    auto record = json::parse(line, nullptr, false);
    std::optional<std::string> problem;
    if (record.is_discarded()) problem = "unparsable: not JSON";
    else if (read == LineRead::no_newline) problem = "unparsable: the last line has no newline (a partial write)";
    else problem = chain_problem(record, seq, prev, line_number);
    if (!problem && record.value("event", "") == "checkpoint") {
      problem = checkpoint_problem(record, seq, prev, check_checkpoint);
      if (!problem) ++report.checkpoints;
    }
    if (!problem) {
      if (auto wanted = expected.find(seq); wanted != expected.end()) {
        if (wanted->second != record["hash"].get<std::string>())
          problem = "differs from the checkpoint kept outside the log for seq " + std::to_string(seq) +
                    " (the log was rewritten)";
        else ++report.external_checkpoints;
      }
    }
    if (problem) {
      report.first_bad = BadLine{line_number, *problem};
      return report;
    }
    track_runs(record, line_number, open);
    prev = record["hash"].get<std::string>();
    report.head_seq = seq;
    report.head_hash = prev;
    ++seq;
    ++report.records;
  }
  if (!expected.empty() && expected.rbegin()->first > report.head_seq)
    report.first_bad = BadLine{line_number + 1, "missing records: a checkpoint kept outside the log covers seq " +
                                                    std::to_string(expected.rbegin()->first) + " but the log ends at seq " +
                                                    std::to_string(report.head_seq) + " (lines were cut from its end)"};
  for (const auto& [run_id, run] : open) report.ended_unknown.push_back(run);
  std::sort(report.ended_unknown.begin(), report.ended_unknown.end(),
            [](const auto& a, const auto& b) { return a.line < b.line; });
  return report;
}

}  // namespace tierbox::audit
