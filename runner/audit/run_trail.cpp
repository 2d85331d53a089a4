#include "audit/run_trail.h"

#include "audit/audit_log.h"

namespace tierbox::audit {

nlohmann::json to_json(const RunTrail& trail) {
  const auto& context = trail.context;
  nlohmann::json saved = {{"log", trail.log.string()},
          {"syslog", trail.syslog},
          {"context",
           {{"run_id", context.run_id},
            {"user", to_json(context.user)},
            {"host", context.host},
            {"tier", context.tier},
            {"argv", context.argv},
            {"cwd", context.cwd},
            {"simulation", context.simulation}}}};
  if (!context.container_id.empty())
    saved["context"]["container"] = {{"id", context.container_id}, {"image_digest", context.image_digest}};
  return saved;
}

RunTrail run_trail_from_json(const nlohmann::json& saved, const RunContext& fallback) {
  RunTrail trail;
  trail.log = saved.value("log", "");
  trail.syslog = saved.value("syslog", "");
  const auto context = saved.value("context", nlohmann::json::object());
  const auto user = context.value("user", nlohmann::json::object());
  trail.context.run_id = fallback.run_id;
  trail.context.user.uid = user.value("uid", 0u);
  trail.context.user.name = user.value("name", "");
  trail.context.user.sudo_user = user.value("sudo_user", "");
  trail.context.host = context.value("host", fallback.host);
  trail.context.tier = context.value("tier", fallback.tier);
  trail.context.argv = context.value("argv", fallback.argv);
  trail.context.cwd = context.value("cwd", "");
  const auto container = context.value("container", nlohmann::json::object());
  trail.context.container_id = container.value("id", "");
  trail.context.image_digest = container.value("image_digest", "");
  trail.context.simulation = context.value("simulation", "");
  return trail;
}

}  // namespace tierbox::audit
