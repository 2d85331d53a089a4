// The audit log: one append-only JSON Lines file, a hash chain through every
// record, each append written under flock and fsync'ed (after the lock is
// released, by group commit: group_commit.h) before it returns; or, with
// append_all_pending, before the caller's wait() returns. A launch whose
// record cannot be written does not start (fail closed).
//
// Record (docs/governance.md documents every field): whatever the caller
// gives (event, run_id, user, tier, decision, exit, usage, ...) plus
//   seq   1 for the first record, +1 for each next one
//   ts    RFC 3339 UTC with milliseconds
//   prev  the previous record's hash (64 zeros for the first)
//   hash  SHA-256 (hex) of prev followed by the record's canonical JSON
//         (every field but hash, keys sorted, no spaces)
// Changing, removing or reordering any line breaks the chain at that line.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/group_commit.h"

namespace tierbox::audit {

inline constexpr const char* kDefaultAuditLog = "/var/log/tierbox/audit.jsonl";
inline constexpr const char* kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

// Who did something: the kernel's uid, its name, SUDO_USER as extra
// information only (never trusted for a decision).
struct Identity {
  uid_t uid = 0;
  std::string name;
  std::string sudo_user;
};
nlohmann::json to_json(const Identity& identity);
// The calling process's identity.
Identity current_identity();

// The file: --audit-log, else $TIERBOX_AUDIT_LOG, else the configuration's
// audit_log, else kDefaultAuditLog.
std::filesystem::path audit_log_path(const std::string& flag, const std::string& configured);

// Records in the log's file, on their way to disk.
class PendingAppend {
 public:
  PendingAppend() = default;
  PendingAppend(std::vector<nlohmann::json> records, PendingSync sync, std::string syslog_socket);
  // The records as written (seq, ts, prev, hash set).
  [[nodiscard]] const std::vector<nlohmann::json>& records() const { return records_; }
  // Blocks until they are on disk, then forwards them to syslog (if
  // configured). Throws Error when the fsync failed; the records stay in
  // the file (other runs' records may follow them by now, so it is not cut
  // back) and the caller must not go on as if they were durable.
  void wait();

 private:
  std::vector<nlohmann::json> records_;
  PendingSync sync_;
  std::string syslog_socket_;
};

class AuditLog {
 public:
  explicit AuditLog(std::filesystem::path file);
  // syslog_socket: also send every record, after it is on disk, to this unix
  // datagram socket (/dev/log: syslog or journald); "" for none.
  AuditLog(std::filesystem::path file, std::string syslog_socket);

  // Appends record (seq, ts, prev and hash are set here) and returns it as
  // written. Throws tierbox::Error (exit 125) when it cannot be written and
  // synced: the caller must then not go on with what it was recording.
  nlohmann::json append(nlohmann::json record) const;
  // Appends several records as consecutive lines of the chain with one lock,
  // one write and one fsync (a launch's request, decision and start). All or
  // none: a failed write or fsync truncates the file back to where it was.
  std::vector<nlohmann::json> append_all(std::vector<nlohmann::json> records) const;
  // The same, returning once the records are in the file (a failed write
  // cuts it back and throws, as append_all does); their fsync runs on the
  // syncer thread while the caller goes on, until it waits.
  PendingAppend append_all_pending(std::vector<nlohmann::json> records) const;
  // Appends the record build returns, given the seq it will get and the hash
  // of the line before it, under the same lock (a checkpoint signs them).
  nlohmann::json append_built(const std::function<nlohmann::json(std::uint64_t seq, const std::string& prev)>& build) const;
  // Creates the directory (0700) and the file (0600) if missing and checks it
  // can be opened for appending; the caller learns at once, before doing
  // anything else, that its records could not be written.
  void create_if_missing() const;

  [[nodiscard]] const std::filesystem::path& file() const { return file_; }

 private:
  PendingAppend append_locked(
      const std::function<std::vector<nlohmann::json>(std::uint64_t, const std::string&)>& build) const;
  std::filesystem::path file_;
  std::string syslog_socket_;
};

// Walks the records from the end backwards until visit returns false or the
// start of the file. Lines that are not JSON are skipped. For `tierbox gc`,
// which looks for a run's end record behind its start, without reading a
// long log from the beginning.
void scan_backwards(const std::filesystem::path& file, const std::function<bool(const nlohmann::json&)>& visit);

// The hash of a record as the chain defines it (record["hash"] is ignored).
std::string record_hash(const nlohmann::json& record);

}  // namespace tierbox::audit
