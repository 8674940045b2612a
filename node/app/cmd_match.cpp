// `jisr match`: run a privacy-preserving match job against a peer now, through the running
// node (admin socket command "match"); and `jisr matches list|show|confirm|reject`: the review
// of the candidates it stored. list and show are this command's job to show to reviewers:
// candidate ids, local record ids, scores and evidence (field names and grades, never values);
// `show` also prints the fields the peer revealed after a confirm. confirm goes through the
// running node (it asks the peer to reveal); reject is a local decision written directly.
#include <fmt/format.h>

#include <iostream>

#include "node/app/cli.hpp"
#include "node/audit/audit_log.hpp"
#include "node/exchange/match_engine.hpp"
#include "node/net/admin_client.hpp"

namespace jisr::app {
namespace {

// The node's answer to an admin request, as JSON with "ok".
Result<nlohmann::json> ask_node(const NodeHome& home, const nlohmann::json& request, int timeout_s) {
  JISR_TRY(auto reply, net::admin_request(home.admin_socket(), request.dump(), std::chrono::seconds(timeout_s)));
  nlohmann::json j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::kInternal, "the node answered something that is not JSON", home.admin_socket().string());
  }
  return j;
}

struct MatchOptions {
  std::string dir;
  std::string peer;
  std::string method = "psi";
  int timeout_s = 600;
  bool json = false;
};

int run_match(const MatchOptions& opt) {
  if (!is_valid_org_id(opt.peer)) return usage_error("--peer must be an org id");
  if (!exchange::parse_method(opt.method)) return usage_error("--method must be psi or bloom");
  NodeHome home{opt.dir};
  auto j = ask_node(home, {{"cmd", "match"}, {"peer", opt.peer}, {"method", opt.method}}, opt.timeout_s);
  if (!j) return fail(j.error());
  if (!j.value().value("ok", false)) {
    return fail(make_error(Errc::kDenied, j.value().value("error", std::string("match job failed")), opt.peer));
  }
  if (opt.json) {
    print_json(j.value());
  } else {
    const auto& o = j.value();
    std::cout << fmt::format(
        "match job {} with {} ({}): {} record(s) queried, {} new candidate(s), {} found again; peer quota left today: {}\n",
        o.value("job", std::string()), opt.peer, opt.method, o.value("query_records", 0), o.value("candidates", 0),
        o.value("known_candidates", 0), o.value("quota_left", 0));
    if (const uint64_t aside = o.value("set_aside", uint64_t{0}); aside > 0) {
      std::cout << fmt::format(
          "{} pair(s) set aside: the peer's record was claimed more strongly by another of our records, "
          "not the same person\n", aside);
    }
  }
  return kExitOk;
}

struct MatchesOptions {
  std::string dir;
  std::string status;
  uint64_t id = 0;
  int timeout_s = 120;
  bool json = false;
};

nlohmann::json candidate_json(const exchange::Candidate& c, bool with_revealed) {
  nlohmann::json j{{"id", c.id},         {"record", c.record.str()}, {"peer", c.peer.str()},
                   {"method", c.method}, {"score", c.score},         {"evidence", c.evidence},
                   {"status", c.status}, {"job", c.job_id},          {"created", format_utc(c.created)},
                   {"handle", c.handle}};  // the peer's opaque pseudonym of its record
  if (c.decided) j["decided"] = format_utc(*c.decided);
  if (with_revealed) {
    nlohmann::json rev = nlohmann::json::object();
    for (const auto& [k, v] : c.revealed) rev[k] = v;
    j["revealed"] = std::move(rev);
  }
  return j;
}

int run_list(const MatchesOptions& opt) {
  if (!opt.status.empty() && opt.status != "candidate" && opt.status != "confirmed" && opt.status != "rejected") {
    return usage_error("--status must be candidate, confirmed or rejected");
  }
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  auto all = exchange::list_candidates(txn.value());
  if (!all) return fail(all.error());
  nlohmann::json out = nlohmann::json::array();
  if (!opt.json) std::cout << fmt::format("{:>4}  {:<16} {:<6} {:<6} {:>6}  {:<10} {}\n", "ID", "RECORD", "PEER", "METHOD", "SCORE", "STATUS", "EVIDENCE");
  for (const auto& c : all.value()) {
    if (!opt.status.empty() && c.status != opt.status) continue;
    if (opt.json) {
      out.push_back(candidate_json(c, false));
    } else {
      std::cout << fmt::format("{:>4}  {:<16} {:<6} {:<6} {:>6.2f}  {:<10} {}\n", c.id, c.record.str(), c.peer.str(), c.method,
                               c.score, c.status, c.evidence);
    }
  }
  if (opt.json) print_json(out);
  return kExitOk;
}

int run_show(const MatchesOptions& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  auto c = exchange::get_candidate(txn.value(), opt.id);
  if (!c) return fail(c.error());
  if (!c.value()) return fail(make_error(Errc::kNotFound, "no such match candidate", std::to_string(opt.id)));
  const auto& m = *c.value();
  if (opt.json) {
    print_json(candidate_json(m, true));
    return kExitOk;
  }
  std::cout << fmt::format("candidate {}: our record {} ~ {} handle {}\n", m.id, m.record.str(), m.peer.str(), m.handle);
  std::cout << fmt::format("  method {}, score {:.2f}, status {}, job {}\n", m.method, m.score, m.status, m.job_id);
  std::cout << fmt::format("  evidence: {}\n", m.evidence);
  if (m.revealed.empty()) {
    std::cout << (m.status == "confirmed" ? "  the peer revealed no fields\n" : "  nothing revealed yet (matches confirm)\n");
  } else {
    std::cout << fmt::format("  revealed by {}:\n", m.peer.str());
    for (const auto& [k, v] : m.revealed) std::cout << fmt::format("    {}: {}\n", k, v);
  }
  return kExitOk;
}

int run_confirm(const MatchesOptions& opt) {
  NodeHome home{opt.dir};
  auto j = ask_node(home, {{"cmd", "match_confirm"}, {"id", opt.id}}, opt.timeout_s);
  if (!j) return fail(j.error());
  if (!j.value().value("ok", false)) {
    return fail(make_error(Errc::kDenied, j.value().value("error", std::string("confirm failed")), std::to_string(opt.id)));
  }
  if (opt.json) {
    print_json(j.value());
  } else {
    std::cout << fmt::format("candidate {} confirmed: {} field(s) revealed{}\n", opt.id, j.value().value("fields", 0),
                             j.value().value("refused", 0) ? " (the peer refused the handle)" : "");
  }
  return kExitOk;
}

int run_reject(const MatchesOptions& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto& n = node.value();
  audit::AuditLog log(*n.env, n.config.org.str());
  SystemClock clock;
  exchange::MatchEngine engine(*n.env, log, clock, n.schema, n.config.org);
  if (auto r = engine.reject(opt.id); !r) return fail(r.error());
  if (opt.json) {
    print_json({{"ok", true}, {"id", opt.id}, {"status", "rejected"}});
  } else {
    std::cout << fmt::format("candidate {} rejected\n", opt.id);
  }
  return kExitOk;
}

}  // namespace

void add_match_command(CLI::App& app, Action& action) {
  {
    auto opt = std::make_shared<MatchOptions>();
    auto* cmd = app.add_subcommand("match", "run a privacy-preserving match job with a peer now (through the running node)");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--peer", opt->peer, "the peer organisation")->required();
    cmd->add_option("--method", opt->method, "psi or bloom")->capture_default_str();
    cmd->add_option("--timeout", opt->timeout_s, "seconds to wait at most")->capture_default_str()->check(CLI::Range(1, 86400));
    cmd->add_flag("--json", opt->json, "print the job's outcome as JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_match(*opt); }; });
  }
  auto* group = app.add_subcommand("matches", "review match candidates: list, show, confirm, reject");
  group->require_subcommand(1);
  {
    auto opt = std::make_shared<MatchesOptions>();
    auto* cmd = group->add_subcommand("list", "candidates with score and evidence (no field values)");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--status", opt->status, "only candidate, confirmed or rejected");
    cmd->add_flag("--json", opt->json, "JSON output");
    cmd->callback([opt, &action] { action = [opt] { return run_list(*opt); }; });
  }
  {
    auto opt = std::make_shared<MatchesOptions>();
    auto* cmd = group->add_subcommand("show", "one candidate, with the fields the peer revealed");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("id", opt->id, "candidate number")->required();
    cmd->add_flag("--json", opt->json, "JSON output");
    cmd->callback([opt, &action] { action = [opt] { return run_show(*opt); }; });
  }
  {
    auto opt = std::make_shared<MatchesOptions>();
    auto* cmd = group->add_subcommand("confirm", "confirm a candidate: the peer reveals the agreement's reveal fields");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("id", opt->id, "candidate number")->required();
    cmd->add_option("--timeout", opt->timeout_s, "seconds to wait at most")->capture_default_str()->check(CLI::Range(1, 86400));
    cmd->add_flag("--json", opt->json, "JSON output");
    cmd->callback([opt, &action] { action = [opt] { return run_confirm(*opt); }; });
  }
  {
    auto opt = std::make_shared<MatchesOptions>();
    auto* cmd = group->add_subcommand("reject", "reject a candidate (nothing is asked of the peer)");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("id", opt->id, "candidate number")->required();
    cmd->add_flag("--json", opt->json, "JSON output");
    cmd->callback([opt, &action] { action = [opt] { return run_reject(*opt); }; });
  }
}

}  // namespace jisr::app
