#include "policy/sections/commands.h"

#include <algorithm>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using nlohmann::json;

bool is_command_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

bool is_sha256_hex(const std::string& text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

AllowedCommand parse_entry(const json& value, const std::string& file, const std::string& pointer) {
  AllowedCommand entry;
  entry.origin = file + ":" + pointer;
  std::string where = pointer;
  if (value.is_string()) {
    entry.command = value.get<std::string>();
  } else {
    JsonObjectReader reader(value, file, pointer);
    auto path = reader.string("path");
    if (!path) reader.fail("path", "missing (expected an absolute path in the sandbox or a command name)");
    entry.command = *path;
    where = reader.pointer_of("path");
    if (auto sha256 = reader.string("sha256")) {
      if (!is_sha256_hex(*sha256))
        reader.fail("sha256", "expected 64 lowercase hex digits (fix: sha256sum FILE)");
      entry.sha256 = *sha256;
    }
    reader.string("comment");
    reader.finish();
  }
  if (!is_normalized_absolute_path(entry.command) && !is_command_name(entry.command))
    throw ConfigError(file, where, "expected an absolute path in the sandbox (/usr/bin/git) or a command name (git), got " +
                                       json(entry.command).dump());
  return entry;
}

}  // namespace

void apply_commands(JsonObjectReader& reader, CommandsSpec& spec) {
  const auto* entries = reader.array("allowed_commands");
  if (!entries) return;
  if (entries->empty())
    reader.fail("allowed_commands", "an empty list allows no command at all (fix: list commands, or remove the key to allow any)");
  std::vector<AllowedCommand> allowed;
  for (std::size_t i = 0; i < entries->size(); ++i)
    allowed.push_back(parse_entry((*entries)[i], reader.file(), json_pointer_append("/allowed_commands", i)));
  spec.allowed = std::move(allowed);
}

namespace {

void apply_commands_layer(ProfileLayer& layer, Profile& profile) { apply_commands(layer.reader, profile.commands); }

}  // namespace

const ProfileSection& commands_section() {
  static const ProfileSection kSection{
      "commands",
      "process",
      {
          {"allowed_commands", R"({"type": "array", "minItems": 1, "items": {"anyOf": [{"type": "string"},
              {"type": "object", "required": ["path"], "additionalProperties": false,
               "properties": {"path": {"type": "string"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                              "comment": {"type": "string"}}}]}})",
           nullptr, "which executables may be launched; absent: any command", "Allowed commands", true},
      },
      apply_commands_layer,
      nullptr,
  };
  return kSection;
}

}  // namespace tierbox::policy
