// Signed grants for non-interactive runs (CI): an approver signs, ahead of
// time, exactly one launch: the tier, the exact argv, the workspace, the
// plan digest (policy/plan_summary.h), an expiry and a single-use nonce.
// Ed25519 (libsodium). Pure: the trust store and the grant are parsed from
// JSON and checked against what the run is about to do; the files are in
// grant_store.h. docs/governance.md documents the formats and the commands.
//
// A grant file:
//   {"grant": {"version": 1, "tier", "argv", "workspace", "plan_digest",
//              "issued_at", "not_after", "nonce", "issued_by"},
//    "signatures": [{"key_id", "signature"}]}
// The signature is over "tierbox-grant-v1\n" + the canonical JSON of "grant"
// (keys sorted, no spaces). Two signatures from keys of two distinct owners
// make a two_person grant.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tierbox::approval {

using TimePoint = std::chrono::system_clock::time_point;

struct SigningKey {
  std::string id;
  std::vector<unsigned char> public_key;  // 32 bytes
  std::vector<unsigned char> secret_key;  // 64 bytes
};

SigningKey generate_signing_key(const std::string& id);
nlohmann::json to_json(const SigningKey& key);
// A secret key file's content; throws ConfigError naming file.
SigningKey parse_signing_key(const nlohmann::json& document, const std::string& file);

struct Revocation {
  std::string at;
  std::string by;
  std::string reason;
};

// A public key the runner trusts, with its owner (the approver it stands for)
// and validity.
struct TrustedKey {
  std::string id;
  std::vector<unsigned char> public_key;
  std::string owner;  // user name
  std::optional<TimePoint> not_before;
  std::optional<TimePoint> not_after;
  // When the key is due to be replaced (a governance date, not a validity
  // limit: the key still signs after it, and `tierbox readiness` reports it
  // overdue). nullopt in stores written before it existed.
  std::optional<TimePoint> rotate_by;
  std::string added_at;
  std::string added_by;
  std::optional<Revocation> revoked;
};

struct TrustStore {
  std::vector<TrustedKey> keys;
  [[nodiscard]] const TrustedKey* find(const std::string& id) const;
};

TrustStore parse_trust_store(const nlohmann::json& document, const std::string& file);
nlohmann::json to_json(const TrustStore& store);
bool is_valid_key_id(const std::string& id);

// "" when the key may sign at time now, else why not ("revoked on ... by ...",
// "not valid before ...", "expired on ...").
std::string key_problem(const TrustedKey& key, TimePoint now);

std::string sign_message(const SigningKey& key, const std::string& message);  // base64 signature
bool signature_matches(const std::vector<unsigned char>& public_key, const std::string& message,
                       const std::string& signature_base64);

std::string grant_message(const nlohmann::json& grant_body);

// What a run is about to do, for checking a grant against it.
struct GrantBinding {
  std::string tier;
  std::vector<std::string> argv;
  std::optional<std::string> workspace;  // canonical
  std::string plan_digest;
};

struct GrantCheck {
  bool ok = false;
  std::string reason;                // why not, one line (each failure has its own wording)
  std::vector<std::string> signers;  // owners of the keys that signed it, in order
  std::vector<std::string> key_ids;
  std::string nonce;
  std::string not_after;
  nlohmann::json summary;            // for the audit record
};

// Checks a grant file's content: its signatures against the trust store,
// then its expiry, then its binding to the run. The nonce is checked (and
// consumed) by the store afterwards.
GrantCheck check_grant(const nlohmann::json& document, const TrustStore& store, const GrantBinding& binding,
                       TimePoint now);

// "2027-01-31" (midnight UTC) or RFC 3339 ("2027-01-31T12:00:00Z", ".123Z").
std::optional<TimePoint> parse_time(const std::string& text);

}  // namespace tierbox::approval
