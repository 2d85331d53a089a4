// `tierbox grant` (an approver signs one launch ahead of time, for CI) and
// `tierbox keys generate|add|list|revoke` (the signing keys and the trust
// store). Formats and checks: approval/grant.h, approval/grant_store.h.
#include <unistd.h>

#include <cstdio>

#include "approval/grant.h"
#include "approval/grant_store.h"
#include "audit/audit_log.h"
#include "cli/commands.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json_bytes.h"
#include "common/rfc3339.h"
#include "common/units.h"
#include "common/users.h"
#include "launch/run_registry.h"
#include "policy/runner_config.h"

namespace tierbox::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct GrantOptions {
  std::string key_file;
  std::string tier;
  std::string workspace;
  std::string plan_digest;
  std::string expires = "1h";
  std::string out;
  std::string countersign;
  std::vector<std::string> command;
  // keys
  std::string id;
  std::string public_file;
  std::string owner;
  std::string rotate_by;
  std::string not_before, not_after;
  std::string reason;
  bool json = false;
};

fs::path governance_dir(const CommonOptions& common) {
  const auto text = search_dirs(common);
  return policy::load_runner_config({text.begin(), text.end()}).governance_dir;
}

std::string now_text() { return rfc3339_utc(std::chrono::system_clock::now()); }

void write_grant(const std::string& out, const json& document) {
  if (out.empty() || out == "-") {
    std::printf("%s\n", document.dump(2).c_str());
    return;
  }
  write_file_atomically(out, document.dump(2) + "\n", 0644, Durability::fsync);
  std::fprintf(stderr, "tierbox: grant written to %s\n", out.c_str());
}

json signature(const approval::SigningKey& key, const json& body) {
  return {{"key_id", key.id}, {"signature", approval::sign_message(key, approval::grant_message(body))}};
}

int grant(const GrantOptions& options) {
  const auto key = approval::read_signing_key(options.key_file);
  if (!options.countersign.empty()) {
    // A second approver adds a signature (two_person).
    auto document = approval::read_json_document(options.countersign);
    if (!document.contains("grant") || !document.contains("signatures"))
      throw Error(options.countersign + ": not a grant", exit_code::runner_failed);
    for (const auto& existing : document["signatures"])
      if (existing.value("key_id", "") == key.id)
        throw Error(options.countersign + ": already signed with key " + key.id, exit_code::runner_failed);
    document["signatures"].push_back(signature(key, document["grant"]));
    write_grant(options.out.empty() ? options.countersign : options.out, document);
    return 0;
  }
  if (options.tier.empty() || options.plan_digest.empty() || options.command.empty())
    throw Error("grant: --tier, --plan-digest (from `tierbox run --dry-run` with the same tier, workspace and command) "
                "and the command after -- are required",
                exit_code::runner_failed);
  if (options.plan_digest.size() != 64 || options.plan_digest.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error("--plan-digest " + options.plan_digest + ": expected 64 hex digits (the `plan digest:` line of run --dry-run)",
                exit_code::runner_failed);
  const auto lifetime = parse_duration(options.expires);
  if (!lifetime || lifetime->count() <= 0)
    throw Error("--expires " + options.expires + ": expected a duration such as 30m or 24h", exit_code::runner_failed);
  json workspace = nullptr;
  if (!options.workspace.empty()) {
    std::error_code ec;
    const auto canonical = fs::canonical(options.workspace, ec);
    if (ec) throw Error("--workspace " + quote(options.workspace) + ": " + ec.message(), exit_code::runner_failed);
    workspace = canonical.string();
  }
  const auto issuer = audit::current_identity();
  const json body = {{"version", 1},
                     {"tier", options.tier},
                     {"argv", utf8_safe(options.command)},
                     {"workspace", utf8_safe(workspace)},
                     {"plan_digest", options.plan_digest},
                     {"issued_at", now_text()},
                     {"not_after", rfc3339_utc(std::chrono::system_clock::now() + *lifetime)},
                     {"nonce", random_hex(16)},
                     {"issued_by", audit::to_json(issuer)}};
  write_grant(options.out, {{"grant", body}, {"signatures", json::array({signature(key, body)})}});
  return 0;
}

int keys_generate(const GrantOptions& options) {
  if (!approval::is_valid_key_id(options.id)) throw Error("--id: expected letters, digits, '-', '_' or '.'", exit_code::runner_failed);
  if (options.out.empty()) throw Error("--out FILE is required (the secret key, written 0600)", exit_code::runner_failed);
  const auto key = approval::generate_signing_key(options.id);
  approval::write_signing_key(options.out, key);
  const json public_part = {{"id", key.id}, {"public_key", to_base64(key.public_key.data(), key.public_key.size())}};
  std::printf("%s\n", public_part.dump().c_str());
  std::fprintf(stderr, "tierbox: secret key written to %s; give the line above to an administrator: tierbox keys add\n",
               options.out.c_str());
  return 0;
}

std::optional<approval::TimePoint> time_flag(const std::string& text, const std::string& flag) {
  if (text.empty()) return std::nullopt;
  auto time = approval::parse_time(text);
  if (!time) throw Error(flag + " " + text + ": expected a date (2027-01-31) or RFC 3339 time", exit_code::runner_failed);
  return time;
}

int keys_add(const GrantOptions& options, const CommonOptions& common) {
  if (::geteuid() != 0) throw Error("keys add: only root edits the trust store", exit_code::refused);
  const auto document = approval::read_json_document(options.public_file);
  const auto id = document.value("id", "");
  const auto encoded = document.value("public_key", "");
  const auto bytes = from_base64(encoded);
  if (!approval::is_valid_key_id(id) || !bytes || bytes->size() != 32)
    throw Error(options.public_file + ": expected {\"id\", \"public_key\"} as `tierbox keys generate` prints", exit_code::runner_failed);
  if (options.owner.empty() || !user_id(options.owner))
    throw Error("--owner: the key's owner must be a user of this host (the approver it signs for)", exit_code::runner_failed);
  approval::TrustedKey key;
  key.id = id;
  key.public_key = *bytes;
  key.owner = options.owner;
  key.not_before = time_flag(options.not_before, "--not-before");
  key.not_after = time_flag(options.not_after, "--not-after");
  key.rotate_by = time_flag(options.rotate_by, "--rotate-by");
  key.added_at = now_text();
  key.added_by = audit::current_identity().name;
  if (const char* sudo_user = std::getenv("SUDO_USER")) key.added_by += std::string(" (sudo: ") + sudo_user + ")";
  approval::edit_trust_store(governance_dir(common), [&](approval::TrustStore& store) {
    if (store.find(key.id)) throw Error("key " + key.id + " is already trusted (key ids are never reused)", exit_code::runner_failed);
    store.keys.push_back(key);
  });
  std::printf("key %s of %s trusted\n", key.id.c_str(), key.owner.c_str());
  return 0;
}

int keys_revoke(const GrantOptions& options, const CommonOptions& common) {
  if (::geteuid() != 0) throw Error("keys revoke: only root edits the trust store", exit_code::refused);
  approval::edit_trust_store(governance_dir(common), [&](approval::TrustStore& store) {
    for (auto& key : store.keys) {
      if (key.id != options.id) continue;
      if (key.revoked) throw Error("key " + key.id + " was revoked already on " + key.revoked->at, exit_code::runner_failed);
      key.revoked = approval::Revocation{now_text(), audit::current_identity().name, options.reason};
      return;
    }
    throw Error("no trusted key " + quote(options.id) + " (see tierbox keys list)", exit_code::runner_failed);
  });
  std::printf("key %s revoked: grants and checkpoints it signs are refused from now on\n", options.id.c_str());
  return 0;
}

int keys_list(const GrantOptions& options, const CommonOptions& common) {
  const auto store = approval::load_trust_store(governance_dir(common));
  if (options.json) {
    std::printf("%s\n", approval::to_json(store).dump().c_str());
    return 0;
  }
  const auto now = std::chrono::system_clock::now();
  for (const auto& key : store.keys) {
    const auto problem = approval::key_problem(key, now);
    std::string rotation = "no rotation date";
    if (key.rotate_by)
      rotation = "rotate by " + rfc3339_utc(*key.rotate_by).substr(0, 10) + (now > *key.rotate_by ? " (overdue)" : "");
    std::printf("%s  owner %s  %s  %s\n", key.id.c_str(), key.owner.c_str(), rotation.c_str(),
                problem.empty() ? "valid" : problem.c_str());
  }
  if (store.keys.empty()) std::printf("no trusted grant keys\n");
  return 0;
}

}  // namespace

std::function<int()> add_grant_commands(CLI::App& app, CommonOptions& common,
                                        const std::vector<std::string>& command_after_dashes) {
  auto options = std::make_shared<GrantOptions>();
  auto* grant_app = app.add_subcommand("grant", "Sign a grant for one launch (for CI): tierbox grant --key K --tier T "
                                                "--plan-digest D [--workspace W] [--expires 1h] --out FILE -- COMMAND...");
  grant_app->add_option("--key", options->key_file, "Your secret key file (tierbox keys generate)")->required();
  grant_app->add_option("--tier", options->tier, "The tier the run uses");
  grant_app->add_option("--workspace", options->workspace, "The run's --workspace, if any");
  grant_app->add_option("--plan-digest", options->plan_digest, "The plan digest `tierbox run --dry-run` prints for this run");
  grant_app->add_option("--expires", options->expires, "How long the grant is valid (default 1h)");
  grant_app->add_option("--out", options->out, "Write the grant here (default: stdout)");
  grant_app->add_option("--countersign", options->countersign, "Add your signature to an existing grant (two_person)");
  grant_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  grant_app->add_option("command", options->command, "The exact command the grant allows");
  auto* keys_app = app.add_subcommand("keys", "Grant signing keys: generate, add (trust), list, revoke");
  keys_app->require_subcommand(1);
  auto* generate_app = keys_app->add_subcommand("generate", "Make an Ed25519 key pair; prints the public part");
  generate_app->add_option("--id", options->id, "Key id (never reused)")->required();
  generate_app->add_option("--out", options->out, "Secret key file to create (0600)")->required();
  auto* add_app = keys_app->add_subcommand("add", "Trust a public key (root): rotation adds the new key, then revokes the old");
  add_app->add_option("public", options->public_file, "File with the line `keys generate` printed")->required();
  add_app->add_option("--owner", options->owner, "The approver (user) the key signs for")->required();
  add_app->add_option("--not-before", options->not_before, "Valid from (date or RFC 3339)");
  add_app->add_option("--not-after", options->not_after, "Valid until (date or RFC 3339)");
  add_app->add_option("--rotate-by", options->rotate_by, "When the key is due to be replaced (date); readiness reports it overdue after");
  add_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  auto* list_app = keys_app->add_subcommand("list", "The trusted keys and whether each is valid now");
  list_app->add_flag("--json", options->json, "JSON");
  list_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  auto* revoke_app = keys_app->add_subcommand("revoke", "Stop trusting a key (root); kept in the store as revoked");
  revoke_app->add_option("id", options->id, "Key id")->required();
  revoke_app->add_option("--reason", options->reason, "Why (kept with the key)");
  revoke_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  return [options, &common, grant_app, generate_app, add_app, list_app, revoke_app, &command_after_dashes] {
    if (grant_app->parsed()) {
      options->command.insert(options->command.end(), command_after_dashes.begin(), command_after_dashes.end());
      return grant(*options);
    }
    if (generate_app->parsed()) return keys_generate(*options);
    if (add_app->parsed()) return keys_add(*options, common);
    if (list_app->parsed()) return keys_list(*options, common);
    if (revoke_app->parsed()) return keys_revoke(*options, common);
    return int{exit_code::runner_failed};
  };
}

}  // namespace tierbox::cli
