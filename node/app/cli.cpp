#include "node/app/cli.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace jisr::app {

int fail(const Error& error) {
  // Multi-line messages (e.g. every error of a policy file) keep one error per line.
  std::string text = error.message();
  std::fprintf(stderr, "jisr: error: %s\n", text.c_str());
  return kExitFailed;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "jisr: error: %s (usage)\n", message.c_str());
  return kExitUsage;
}

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

CLI::Option* add_dir_option(CLI::App& cmd, std::string& dir) {
  return cmd.add_option("--dir", dir, "node home directory")->required();
}

audit::Actor local_admin() {
  const char* user = std::getenv("USER");
  std::string name = user ? user : "";
  // Keep the id short and printable: it goes into a log line.
  std::erase_if(name, [](char c) { return !std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.'; });
  if (name.size() > 32) name.resize(32);
  return audit::Actor{audit::ActorKind::kLocalAdmin, name};
}

Result<void> audit_admin_action(const NodeHome& home, const OrgId& org, audit::AuditEvent event) {
  JISR_TRY(auto env, store::Env::open(home.data_dir()));
  audit::AuditLog log(*env, org.str());
  if (event.actor.kind == audit::ActorKind::kNode) event.actor = local_admin();
  JISR_TRY(log.append(event, SystemClock().now()));
  return ok();
}

Result<OpenNode> open_node(const std::string& dir) {
  NodeHome home{std::filesystem::path(dir)};
  if (!std::filesystem::exists(home.node_yaml())) {
    return make_error(Errc::kNotFound, "not a node home (run `jisr init` first)",
                      home.node_yaml().string());
  }
  JISR_TRY(auto config, NodeConfig::load(home.node_yaml()));
  const auto schema_path =
      config.schema.is_absolute() ? config.schema : home.dir() / config.schema;
  auto src = YamlSource::from_file(schema_path);
  JISR_TRY(auto schema, RecordSchema::load(src));
  JISR_TRY(auto env, store::Env::open(home.data_dir()));
  return OpenNode{std::move(home), std::move(config), std::move(schema), std::move(env)};
}

}  // namespace jisr::app
