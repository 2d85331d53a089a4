// The one piece of runc-style argument parsing `tierbox oci` and its `exec`
// share: an option's value given as "--name value" or "--name=value" (engines
// use both). Each keeps its own usage line.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tierbox::cli {

// True when args[i] is option name with its value (out set; i moved past a
// separate value); false when args[i] is something else. A missing value
// calls usage with "NAME needs a value" (usage throws).
inline bool take_value(const std::vector<std::string>& args, std::size_t& i, const std::string& name, std::string& out,
                       void (*usage)(const std::string&)) {
  const auto& arg = args[i];
  if (arg == name) {
    if (i + 1 >= args.size()) usage(name + " needs a value");
    out = args.at(++i);
    return true;
  }
  if (arg.rfind(name + "=", 0) == 0) {
    out = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

}  // namespace tierbox::cli
