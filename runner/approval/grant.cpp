#include "approval/grant.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "audit/query.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/rfc3339.h"
#include "policy/json_reader.h"
#include "common/json_bytes.h"

namespace tierbox::approval {
namespace {

using json = nlohmann::json;

void ensure_sodium() {
  if (sodium_init() < 0) throw Error("libsodium failed to initialise", exit_code::runner_failed);
}

std::vector<unsigned char> key_bytes(policy::JsonObjectReader& reader, const std::string& field, std::size_t size) {
  auto text = reader.string(field);
  if (!text) reader.fail(field, "missing");
  auto bytes = from_base64(*text);
  if (!bytes || bytes->size() != size)
    reader.fail(field, "expected " + std::to_string(size) + " bytes in base64");
  return *bytes;
}

std::optional<TimePoint> time_field(policy::JsonObjectReader& reader, const std::string& field) {
  auto text = reader.string(field);
  if (!text || text->empty()) return std::nullopt;
  auto time = parse_time(*text);
  if (!time) reader.fail(field, "expected a date (2027-01-31) or an RFC 3339 time (2027-01-31T12:00:00Z)");
  return time;
}

std::string time_text(const std::optional<TimePoint>& time) {
  return time ? rfc3339_utc(*time) : std::string();
}

std::string argv_text(const std::vector<std::string>& argv) {
  return utf8_safe(argv).dump();
}

}  // namespace

std::optional<TimePoint> parse_time(const std::string& text) {
  if (text.size() == 10) {
    std::tm utc{};
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d", &utc.tm_year, &utc.tm_mon, &utc.tm_mday) != 3) return std::nullopt;
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    return std::chrono::system_clock::from_time_t(::timegm(&utc));
  }
  if (text.empty() || text.back() != 'Z') return std::nullopt;
  return audit::parse_timestamp(text);
}

bool is_valid_key_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

SigningKey generate_signing_key(const std::string& id) {
  ensure_sodium();
  SigningKey key;
  key.id = id;
  key.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  key.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(key.public_key.data(), key.secret_key.data());
  return key;
}

json to_json(const SigningKey& key) {
  return {{"key_id", key.id},
          {"algorithm", "ed25519"},
          {"public_key", to_base64(key.public_key.data(), key.public_key.size())},
          {"secret_key", to_base64(key.secret_key.data(), key.secret_key.size())}};
}

SigningKey parse_signing_key(const json& document, const std::string& file) {
  policy::JsonObjectReader reader(document, file, "");
  SigningKey key;
  key.id = reader.string("key_id").value_or("");
  if (!is_valid_key_id(key.id)) reader.fail("key_id", "expected a key id of letters, digits, '-', '_' or '.'");
  if (reader.string("algorithm").value_or("") != "ed25519") reader.fail("algorithm", "expected \"ed25519\"");
  key.public_key = key_bytes(reader, "public_key", crypto_sign_PUBLICKEYBYTES);
  key.secret_key = key_bytes(reader, "secret_key", crypto_sign_SECRETKEYBYTES);
  reader.finish();
  return key;
}

const TrustedKey* TrustStore::find(const std::string& id) const {
  auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& key) { return key.id == id; });
  return it == keys.end() ? nullptr : &*it;
}

TrustStore parse_trust_store(const json& document, const std::string& file) {
  policy::JsonObjectReader reader(document, file, "");
  reader.string("comment");
  TrustStore store;
  const json* keys = reader.array("keys");
  if (!keys) reader.fail("keys", "missing (an array of trusted public keys)");
  for (std::size_t i = 0; i < keys->size(); ++i) {
    policy::JsonObjectReader entry((*keys)[i], file, policy::json_pointer_append("/keys", i));
    TrustedKey key;
    key.id = entry.string("id").value_or("");
    if (!is_valid_key_id(key.id)) entry.fail("id", "expected a key id of letters, digits, '-', '_' or '.'");
    if (store.find(key.id)) entry.fail("id", "duplicate key id " + json(key.id).dump());
    key.public_key = key_bytes(entry, "public_key", crypto_sign_PUBLICKEYBYTES);
    key.owner = entry.string("owner").value_or("");
    if (key.owner.empty()) entry.fail("owner", "missing: the user the key belongs to");
    key.not_before = time_field(entry, "not_before");
    key.not_after = time_field(entry, "not_after");
    key.rotate_by = time_field(entry, "rotate_by");
    key.added_at = entry.string("added_at").value_or("");
    key.added_by = entry.string("added_by").value_or("");
    // null (or absent): not revoked.
    if (const json* revoked = entry.raw("revoked"); revoked && !revoked->is_null()) {
      auto reader_of_revoked = *entry.object("revoked");
      key.revoked = Revocation{reader_of_revoked.string("at").value_or(""), reader_of_revoked.string("by").value_or(""),
                               reader_of_revoked.string("reason").value_or("")};
      reader_of_revoked.finish();
    }
    entry.finish();
    store.keys.push_back(std::move(key));
  }
  reader.finish();
  return store;
}

json to_json(const TrustStore& store) {
  json keys = json::array();
  for (const auto& key : store.keys) {
    keys.push_back({{"id", key.id},
                    {"public_key", to_base64(key.public_key.data(), key.public_key.size())},
                    {"owner", key.owner},
                    {"not_before", time_text(key.not_before)},
                    {"not_after", time_text(key.not_after)},
                    {"rotate_by", time_text(key.rotate_by)},
                    {"added_at", key.added_at},
                    {"added_by", key.added_by},
                    {"revoked", key.revoked ? json{{"at", key.revoked->at}, {"by", key.revoked->by}, {"reason", key.revoked->reason}}
                                            : json(nullptr)}});
  }
  return {{"comment", "Public keys tierbox trusts to sign grants and audit checkpoints; edit with `tierbox keys` (docs/governance.md)"},
          {"keys", keys}};
}

std::string key_problem(const TrustedKey& key, TimePoint now) {
  if (key.revoked)
    return "key '" + key.id + "' was revoked on " + key.revoked->at + " by " + key.revoked->by +
           (key.revoked->reason.empty() ? "" : " (" + key.revoked->reason + ")");
  if (key.not_before && now < *key.not_before)
    return "key '" + key.id + "' is not valid before " + rfc3339_utc(*key.not_before);
  if (key.not_after && now > *key.not_after)
    return "key '" + key.id + "' expired on " + rfc3339_utc(*key.not_after) + " (rotated out)";
  return "";
}

std::string sign_message(const SigningKey& key, const std::string& message) {
  ensure_sodium();
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       key.secret_key.data());
  return to_base64(signature, sizeof signature);
}

bool signature_matches(const std::vector<unsigned char>& public_key, const std::string& message,
                       const std::string& signature_base64) {
  ensure_sodium();
  auto signature = from_base64(signature_base64);
  if (!signature || signature->size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) return false;
  return crypto_sign_verify_detached(signature->data(), reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), public_key.data()) == 0;
}

std::string grant_message(const json& grant_body) { return "tierbox-grant-v1\n" + grant_body.dump(); }

GrantCheck check_grant(const json& document, const TrustStore& store, const GrantBinding& binding, TimePoint now) {
  GrantCheck check;
  const auto fail = [&](std::string reason) {
    check.reason = std::move(reason);
    return check;
  };
  if (!document.is_object() || !document.contains("grant") || !document["grant"].is_object() ||
      !document.contains("signatures") || !document["signatures"].is_array())
    return fail("not a grant (expected {\"grant\": {...}, \"signatures\": [...]})");
  const auto& body = document["grant"];
  check.nonce = body.value("nonce", "");
  check.not_after = body.value("not_after", "");
  check.summary = {{"nonce", check.nonce}, {"not_after", check.not_after}, {"tier", body.value("tier", "")},
                   {"plan_digest", body.value("plan_digest", "")}, {"issued_by", body.value("issued_by", json())}};
  if (document["signatures"].empty()) return fail("the grant carries no signature");
  const auto message = grant_message(body);
  for (const auto& entry : document["signatures"]) {
    const auto key_id = entry.is_object() ? entry.value("key_id", "") : "";
    const auto* key = store.find(key_id);
    if (!key) return fail("signed with an unknown key '" + key_id + "' (not in the trusted grant keys; fix: `tierbox keys add`)");
    if (auto problem = key_problem(*key, now); !problem.empty()) return fail("signed with " + problem);
    if (!signature_matches(key->public_key, message, entry.value("signature", "")))
      return fail("the signature of key '" + key_id + "' does not match: the grant was altered after it was signed");
    check.key_ids.push_back(key_id);
    check.signers.push_back(key->owner);
  }
  check.summary["key_ids"] = check.key_ids;
  check.summary["signers"] = check.signers;
  if (body.value("version", 0) != 1) return fail("unsupported grant version " + body.value("version", json(0)).dump());
  const auto expiry = parse_time(check.not_after);
  if (!expiry) return fail("no valid not_after");
  if (now > *expiry) return fail("expired at " + check.not_after);
  if (body.value("tier", "") != binding.tier)
    return fail("the grant is for tier '" + body.value("tier", "") + "', this run is tier '" + binding.tier + "'");
  const auto argv = body.value("argv", json::array());
  if (argv != utf8_safe(binding.argv))
    return fail("the grant binds the command " + argv.dump() + ", this run's command is " + argv_text(binding.argv));
  const auto workspace = body.value("workspace", json());
  if (workspace != (binding.workspace ? json_bytes(*binding.workspace) : json(nullptr)))
    return fail("the grant binds the workspace " + workspace.dump() + ", this run's is " +
                (binding.workspace ? json_bytes(*binding.workspace).dump() : "none"));
  if (body.value("plan_digest", "") != binding.plan_digest)
    return fail("the grant binds plan digest " + body.value("plan_digest", "") + ", this run's plan is " +
                binding.plan_digest + " (the tier, its data classes or the request changed since it was signed)");
  if (check.nonce.size() != 32 || check.nonce.find_first_not_of("0123456789abcdef") != std::string::npos)
    return fail("no valid nonce");
  check.ok = true;
  return check;
}

}  // namespace tierbox::approval
