// The files of signed grants: the trusted public keys
// (GOVERNANCE_DIR/grant-keys.json, 0644: public keys are public, and
// approvers check their own), the used nonces (GOVERNANCE_DIR/grants-used/,
// 0700), and secret key files (0600, kept by their owner).
//
// GOVERNANCE_DIR (tierbox.json `governance_dir`, default /var/lib/tierbox)
// survives reboots, so a used grant stays used. The runner trusts the key
// file only when root owns it and its directory and nobody else can write
// either (fail closed).
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "approval/grant.h"

namespace tierbox::approval {

inline constexpr const char* kTrustStoreFile = "grant-keys.json";

// An empty store when the file does not exist. Throws Error when it exists
// but others could have written it, or is invalid.
TrustStore load_trust_store(const std::filesystem::path& governance_dir);
// Loads, changes and rewrites the store atomically, under a lock.
void edit_trust_store(const std::filesystem::path& governance_dir, const std::function<void(TrustStore&)>& change);

// Marks the grant's nonce used by run_id (O_EXCL: two runs racing with one
// grant cannot both win). Throws Refusal when it was used before, naming the
// run and time of the first use.
void consume_nonce(const std::filesystem::path& governance_dir, const std::string& nonce, const std::string& run_id);

SigningKey read_signing_key(const std::filesystem::path& file);
// Creates file (0600, never over an existing one).
void write_signing_key(const std::filesystem::path& file, const SigningKey& key);

// Reads a JSON document of a file, naming it in errors.
nlohmann::json read_json_document(const std::filesystem::path& file);

}  // namespace tierbox::approval
