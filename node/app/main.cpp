// jisr: the one binary. main() is the only composition root (STYLE.md 2): it builds the CLI,
// lets the selected subcommand wire what it needs, and turns every outcome into an exit code.
// Uncaught exceptions are bugs; they are reported as one line, never a stack trace.
#include <sodium.h>

#include <cstdio>
#include <exception>

#include "node/app/cli.hpp"

#ifndef JISR_VERSION
#define JISR_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace jisr::app;
  if (sodium_init() < 0) {
    std::fprintf(stderr, "jisr: error: libsodium failed to initialise (crypto)\n");
    return kExitFailed;
  }
  CLI::App app{"Jisr: a federated data-exchange node that shares only what an agreement allows",
               "jisr"};
  app.set_version_flag("--version", std::string("jisr ") + JISR_VERSION);
  app.require_subcommand(1);
  Action action;
  add_init_command(app, action);
  add_peer_command(app, action);
  add_serve_command(app, action);
  add_status_command(app, action);
  add_import_command(app, action);
  add_records_command(app, action);
  add_sync_command(app, action);
  add_audit_command(app, action);
  add_policy_command(app, action);
  add_match_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11's own message, in our one-line format.
    return usage_error(e.what());
  }
  if (!action) return usage_error("no command given");
  try {
    return action();
  } catch (const std::exception& e) {  // boundary: a bug must still end in one clear line
    std::fprintf(stderr, "jisr: error: internal error: %s (bug)\n", e.what());
    return kExitFailed;
  }
}
