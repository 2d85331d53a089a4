// The `secrets` section of a tier: which secrets a caller may hand to a task,
// and where the task finds them. A secret reaches a task only as a file in a
// per-run tmpfs (read-only, mode 0400, owned by the task's uid), never through
// the environment; values come from the caller at launch
// (`run --secret NAME=@FILE` or `NAME=fd:N`), never from a profile.
#pragma once

#include <string>
#include <vector>

namespace tierbox::policy {

class JsonObjectReader;
struct Profile;

struct SecretsSpec {
  std::string target = "/run/secrets";  // the directory the files appear in
  std::vector<std::string> names;        // file names a caller may give; none: no secrets directory
  std::vector<std::string> required;     // names a launch must be given
};

// Applies one file's `secrets` object over spec: each key replaces.
void apply_secrets(JsonObjectReader reader, SecretsSpec& spec);

// After the whole chain: the target may not collide with a mount, the
// workspace or what tierbox builds itself. Throws ConfigError.
void validate_secrets(const Profile& profile);

// [A-Za-z0-9][A-Za-z0-9._-]{0,63}: a plain file name.
bool is_valid_secret_name(const std::string& name);

}  // namespace tierbox::policy
