// `allowed_commands`: which executables a tier may launch, so a new tool
// cannot slip in without a profile change. An entry is an absolute path in the
// sandbox or a name looked up in the sandbox's PATH, and may pin the file's
// sha256: a changed file then refuses the launch until the tier is reviewed
// again. Absent: any command may be launched.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tierbox::policy {

class JsonObjectReader;

struct AllowedCommand {
  std::string command;  // "/usr/bin/git" or "git"
  std::string sha256;   // lowercase hex, "" when not pinned
  std::string origin;   // "file.json:/allowed_commands/1"
};

struct CommandsSpec {
  std::optional<std::vector<AllowedCommand>> allowed;  // nullopt: any command
};

void apply_commands(JsonObjectReader& reader, CommandsSpec& spec);

}  // namespace tierbox::policy
