// The command-line surface: how each `jisr` subcommand registers itself with CLI11, how it
// reports errors (`jisr: error: <what> (<where>)` on stderr) and which exit code it returns
// (0 success, 1 the operation failed, 2 usage error). Each cmd_*.cpp adds one group of
// subcommands; main() wires them together and runs the one selected.
// Thread-safety: used from main's thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "node/audit/audit_log.hpp"
#include "node/core/node_config.hpp"
#include "node/core/node_home.hpp"
#include "node/core/record_schema.hpp"
#include "node/core/result.hpp"
#include "node/store/env.hpp"

namespace jisr::app {

enum ExitCode : int { kExitOk = 0, kExitFailed = 1, kExitUsage = 2 };

// The action selected by parsing; set by a subcommand's callback, run by main.
using Action = std::function<int()>;

// Prints `jisr: error: <message>` and returns kExitFailed.
int fail(const Error& error);
// Prints `jisr: error: <message>` and returns kExitUsage.
int usage_error(const std::string& message);
// Prints a JSON value on stdout (pretty, UTF-8 kept as is).
void print_json(const nlohmann::json& value);

// Adds the required `--dir DIR` option every command takes.
CLI::Option* add_dir_option(CLI::App& cmd, std::string& dir);

// An opened node home: config, record schema and store. What most commands start from.
struct OpenNode {
  NodeHome home;
  NodeConfig config;
  RecordSchema schema;
  std::unique_ptr<store::Env> env;
};
// Loads node.yaml and the schema and opens the store of an existing node home.
Result<OpenNode> open_node(const std::string& dir);

// The actor of commands run at this terminal: a local administrator, named by the OS user.
audit::Actor local_admin();
// Appends an event of a local administrator's command to the node's audit log, in a
// transaction of its own (for commands whose effect is outside the store, e.g. node.yaml).
Result<void> audit_admin_action(const NodeHome& home, const OrgId& org, audit::AuditEvent event);

// Command groups (one cmd_*.cpp each).
void add_init_command(CLI::App& app, Action& action);
void add_peer_command(CLI::App& app, Action& action);
void add_serve_command(CLI::App& app, Action& action);
void add_status_command(CLI::App& app, Action& action);
void add_import_command(CLI::App& app, Action& action);
void add_records_command(CLI::App& app, Action& action);
void add_sync_command(CLI::App& app, Action& action);
void add_audit_command(CLI::App& app, Action& action);
void add_policy_command(CLI::App& app, Action& action);
void add_match_command(CLI::App& app, Action& action);

}  // namespace jisr::app
