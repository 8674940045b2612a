// `jisr sync`: ask the running node to push its outboxes now (optionally waiting until every
// peer acknowledged everything), and `jisr received`: export the records received from peers
// with their provenance, for case workers' existing tools. `received` shows field values: that
// is its job, for people entitled to the received data.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <set>

#include "node/app/cli.hpp"
#include "node/exchange/sync_records.hpp"
#include "node/net/admin_client.hpp"

namespace jisr::app {
namespace {

struct SyncOptions {
  std::string dir;
  std::string peer;
  bool wait = false;
  int timeout_s = 600;
  bool json = false;
};

int run_sync(const SyncOptions& opt) {
  NodeHome home{opt.dir};
  if (!opt.peer.empty() && !is_valid_org_id(opt.peer)) return usage_error("--peer must be an org id");
  nlohmann::json request{{"cmd", "sync"}, {"wait", opt.wait}};
  if (!opt.peer.empty()) request["peer"] = opt.peer;
  auto reply = net::admin_request(home.admin_socket(), request.dump(),
                                  std::chrono::seconds(opt.timeout_s));
  if (!reply) return fail(reply.error());
  nlohmann::json j = nlohmann::json::parse(reply.value(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(make_error(Errc::kInternal, "the node answered something that is not JSON",
                           home.admin_socket().string()));
  }
  if (opt.json) print_json(j);
  if (!j.value("ok", false)) {
    if (opt.json) return kExitFailed;
    return fail(make_error(Errc::kInternal, j.value("error", std::string("sync failed")),
                           opt.peer.empty() ? "sync" : opt.peer));
  }
  if (!opt.json) {
    if (!opt.wait) {
      std::cout << "sync started\n";
    } else {
      for (const auto& p : j["peers"]) {
        if (p.contains("error")) {
          std::cout << fmt::format("{}: not synced: {}\n", p.value("peer", std::string()),
                                   p.value("error", std::string()));
        } else {
          std::cout << fmt::format("{}: {} record(s) sent, {} withdrawn, {} change(s) pending\n",
                                   p.value("peer", std::string()), p.value("sent", 0),
                                   p.value("withdrawn", 0), p.value("pending", 0));
        }
      }
    }
  }
  return j.value("complete", true) ? kExitOk : kExitFailed;
}

struct ReceivedOptions {
  std::string dir;
  std::string peer;
  std::string format = "csv";
  std::string out;
};

std::string csv_cell(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

int run_received(const ReceivedOptions& opt) {
  if (opt.format != "csv" && opt.format != "jsonl") return usage_error("--format must be csv or jsonl");
  if (!opt.peer.empty() && !is_valid_org_id(opt.peer)) return usage_error("--peer must be an org id");
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  std::ofstream file;
  if (!opt.out.empty()) {
    file.open(opt.out, std::ios::binary | std::ios::trunc);
    if (!file) return fail(make_error(Errc::kIo, "cannot write", opt.out));
  }
  std::ostream& out = opt.out.empty() ? std::cout : file;
  // Columns: provenance first, then every schema field that any held record has, in schema order.
  std::set<std::string> present;
  auto scan = exchange::for_each_received(txn.value(), opt.peer, [&](const exchange::ReceivedRecord& r) {
    for (const auto& [name, value] : r.fields) present.insert(name);
    return true;
  });
  if (!scan) return fail(scan.error());
  std::vector<std::string> fields;
  for (const auto& spec : node.value().schema.fields()) {
    if (spec.is_pattern) continue;
    if (present.count(spec.name)) fields.push_back(spec.name);
  }
  const std::vector<std::string> provenance{"peer", "record_id", "version", "received_at", "retain_until",
                                            "sender_agreement", "sender_policy_version", "purpose",
                                            "accept_agreement"};
  if (opt.format == "csv") {
    std::string header;
    for (const auto& c : provenance) header += (header.empty() ? "" : ",") + c;
    for (const auto& f : fields) header += "," + f;
    out << header << "\n";
  }
  uint64_t n = 0;
  auto r = exchange::for_each_received(txn.value(), opt.peer, [&](const exchange::ReceivedRecord& rec) {
    ++n;
    const std::vector<std::string> prov{rec.peer.str(), rec.id.str(), std::to_string(rec.version),
                                        format_utc(rec.received_at), format_utc(rec.retain_until),
                                        rec.sender_agreement, rec.sender_policy_version, rec.purpose,
                                        rec.accept_agreement};
    if (opt.format == "csv") {
      std::string line;
      for (size_t i = 0; i < prov.size(); ++i) line += (i ? "," : "") + csv_cell(prov[i]);
      for (const auto& f : fields) line += "," + csv_cell(rec.fields.get(f).value_or(""));
      out << line << "\n";
    } else {
      nlohmann::json j = nlohmann::json::object();
      for (size_t i = 0; i < prov.size(); ++i) j[provenance[i]] = prov[i];
      j["version"] = rec.version;
      nlohmann::json f = nlohmann::json::object();
      for (const auto& [name, value] : rec.fields) f[name] = value;
      j["fields"] = std::move(f);
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return true;
  });
  if (!r) return fail(r.error());
  if (!opt.out.empty()) std::cerr << fmt::format("{} received record(s) written to {}\n", n, opt.out);
  return kExitOk;
}

}  // namespace

void add_sync_command(CLI::App& app, Action& action) {
  {
    auto opt = std::make_shared<SyncOptions>();
    auto* cmd = app.add_subcommand("sync", "push the outbox to peers now (through the running node)");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--peer", opt->peer, "only this peer");
    cmd->add_flag("--wait", opt->wait, "return when the peer acknowledged everything (exit 1 if not)");
    cmd->add_option("--timeout", opt->timeout_s, "seconds to wait at most")->capture_default_str()->check(CLI::Range(1, 86400));
    cmd->add_flag("--json", opt->json, "print the node's answer as JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_sync(*opt); }; });
  }
  {
    auto opt = std::make_shared<ReceivedOptions>();
    auto* cmd = app.add_subcommand("received", "export records received from peers, with provenance");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--peer", opt->peer, "only records from this peer");
    cmd->add_option("--format", opt->format, "csv or jsonl")->capture_default_str();
    cmd->add_option("--out", opt->out, "write to this file instead of standard output");
    cmd->callback([opt, &action] { action = [opt] { return run_received(*opt); }; });
  }
}

}  // namespace jisr::app
