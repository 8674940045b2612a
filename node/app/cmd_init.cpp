// `jisr init`: creates a node home (DESIGN.md "Node home").
#include <fmt/format.h>

#include <iostream>

#include "node/app/cli.hpp"
#include "node/core/file_io.hpp"
#include "node/pki/pki.hpp"

namespace jisr::app {
namespace {

struct InitOptions {
  std::string dir;
  std::string org;
  std::string listen = "127.0.0.1:7400";
  bool json = false;
};

int run_init(const InitOptions& opt) {
  if (!is_valid_org_id(opt.org)) {
    return usage_error(fmt::format("--org must be 2 to 32 of a-z, 0-9 and '-' (got '{}')", opt.org));
  }
  auto listen = HostPort::parse(opt.listen);
  if (!listen) return usage_error("--listen: " + listen.error().what);
  NodeHome home{opt.dir};
  std::error_code ec;
  if (std::filesystem::exists(home.dir(), ec)) {
    if (!std::filesystem::is_directory(home.dir(), ec)) {
      return fail(make_error(Errc::kConflict, "exists and is not a directory", opt.dir));
    }
    if (!std::filesystem::is_empty(home.dir(), ec)) {
      return fail(make_error(Errc::kConflict, "directory exists and is not empty", opt.dir));
    }
  }
  for (const auto& d : {home.dir(), home.peers_dir(), home.policies_dir(), home.data_dir(),
                        home.run_dir()}) {
    std::filesystem::create_directories(d, ec);
    if (ec) return fail(make_error(Errc::kIo, ec.message(), d.string()));
  }
  std::filesystem::permissions(home.dir(), std::filesystem::perms::owner_all, ec);
  const OrgId org(opt.org);
  SystemClock clock;
  if (auto r = pki::create_node_pki(home, org, clock.now()); !r) return fail(r.error());
  NodeConfig config;
  config.org = org;
  config.listen = listen.value();
  if (auto r = write_file_atomic(home.schema_yaml(), RecordSchema::missing_person_yaml(), 0644); !r) {
    return fail(r.error());
  }
  if (auto r = config.save(home.node_yaml()); !r) return fail(r.error());
  auto env = store::Env::open(home.data_dir());
  if (!env) return fail(env.error());
  auto ca = pki::inspect_certificate_file(home.ca_cert());
  if (!ca) return fail(ca.error());
  if (opt.json) {
    print_json({{"org", org.str()},
                {"dir", home.dir().string()},
                {"listen", config.listen.to_string()},
                {"ca_fingerprint", ca.value().fingerprint}});
  } else {
    std::cout << fmt::format("initialised node '{}' in {}\n", org.str(), home.dir().string())
              << fmt::format("  listen:          {}\n", config.listen.to_string())
              << fmt::format("  org CA:          {}\n", home.ca_cert().string())
              << fmt::format("  CA fingerprint:  {}\n", ca.value().fingerprint)
              << "Give the org CA file and its fingerprint to each peer organisation out of band;\n"
              << "they pin it with `jisr peer add`.\n";
  }
  return kExitOk;
}

}  // namespace

void add_init_command(CLI::App& app, Action& action) {
  auto opt = std::make_shared<InitOptions>();
  auto* cmd = app.add_subcommand("init", "create a node home: config, org CA, node certificate, keys, store");
  add_dir_option(*cmd, opt->dir);
  cmd->add_option("--org", opt->org, "organisation id, [a-z0-9-]{2,32}")->required();
  cmd->add_option("--listen", opt->listen, "HOST:PORT the node listens on")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print the result as JSON");
  cmd->callback([opt, &action] { action = [opt] { return run_init(*opt); }; });
}

}  // namespace jisr::app
