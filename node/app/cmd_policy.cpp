// `jisr policy check|test|explain|diff|apply|history`: the policy officer's tools (issue 4).
// The engine (policies/) is pure; this file adds the node: its schema, its record store, the
// applied-version history (policy_store.hpp) and the reload request to a running node.
// Nothing here prints a record's field values: explain and diff show field names and counts.
#include <fmt/format.h>

#include <iostream>
#include <map>

#include "node/app/cli.hpp"
#include "node/app/policy_store.hpp"
#include "node/core/file_io.hpp"
#include "node/net/admin_client.hpp"
#include "node/store/record_store.hpp"
#include "policies/compiler.hpp"
#include "policies/diff.hpp"
#include "policies/embedded_tests.hpp"
#include "policies/explain.hpp"
#include "policies/policy_set.hpp"

namespace jisr::app {
namespace {

namespace pol = jisr::policies;
using nlohmann::json;

constexpr auto kReloadTimeout = std::chrono::milliseconds(5000);

struct PolicyOptions {
  std::string dir;
  std::vector<std::string> files;
  std::string peer;
  std::string record;
  std::string lang = "en";
  std::string purpose;
  std::string at;
  bool json = false;
};

// The schema agreements are checked against: the node's when --dir is given, else the built-in
// missing-person schema (so officers can check a file before any node exists).
struct SchemaSource {
  std::optional<OpenNode> node;
  const RecordSchema& schema() const { return node ? node->schema : RecordSchema::missing_person(); }
};

Result<SchemaSource> schema_for(const std::string& dir) {
  SchemaSource s;
  if (dir.empty()) return s;
  JISR_TRY(auto node, open_node(dir));
  s.node.emplace(std::move(node));
  return s;
}

// Prints every diagnostic of a failed compile on stderr, one `FILE:LINE:COL: message` per line.
void print_diagnostics(const YamlSource& src) {
  for (const auto& d : src.diagnostics()) std::cerr << d.to_string() << "\n";
}

// `--at YYYY-MM-DD` (noon UTC, so the whole day is inside a window that includes it) or now.
Result<TimePoint> evaluation_time(const std::string& at) {
  if (at.empty()) return SystemClock().now();
  auto d = PartialDate::parse(at);
  if (!d || d->day == 0) {
    return make_error(Errc::kInvalidInput, "--at must be a date YYYY-MM-DD", "usage");
  }
  return pol::start_of_day(*d) + std::chrono::hours(12);
}

int run_check(const PolicyOptions& opt) {
  auto schema = schema_for(opt.dir);
  if (!schema) return fail(schema.error());
  size_t bad = 0;
  json out = json::array();
  for (const auto& file : opt.files) {
    auto src = YamlSource::from_file(file);
    auto compiled = pol::compile_agreement(src, schema.value().schema());
    if (!compiled) {
      ++bad;
      print_diagnostics(src);
      json errors = json::array();
      for (const auto& d : src.diagnostics()) errors.push_back(d.to_string());
      out.push_back({{"file", file}, {"ok", false}, {"errors", errors}});
      continue;
    }
    const auto& a = compiled.value();
    if (opt.json) {
      out.push_back({{"file", file},
                     {"ok", true},
                     {"agreement", a.id().str()},
                     {"peer", a.peer().str()},
                     {"version", a.version()},
                     {"rules", a.rules().size()}});
    } else {
      std::cout << fmt::format("{}: ok (agreement {}, peer {}, {} rules, version {})\n", file,
                               a.id().str(), a.peer().str(), a.rules().size(), a.version());
    }
  }
  if (opt.json) print_json(out);
  if (bad > 0) {
    return fail(make_error(Errc::kInvalidInput,
                           fmt::format("{} of {} agreement files have errors", bad, opt.files.size()),
                           "policy check"));
  }
  return kExitOk;
}

int run_test(const PolicyOptions& opt) {
  auto schema = schema_for(opt.dir);
  if (!schema) return fail(schema.error());
  size_t failed_files = 0;
  json out = json::array();
  for (const auto& file : opt.files) {
    auto src = YamlSource::from_file(file);
    auto compiled = pol::compile_agreement_file(src, schema.value().schema());
    if (!compiled) {
      ++failed_files;
      print_diagnostics(src);
      out.push_back({{"file", file}, {"ok", false}, {"error", "agreement does not compile"}});
      continue;
    }
    const auto& a = compiled.value().agreement;
    const auto report = pol::run_embedded_tests(compiled.value());
    if (!report.ok()) ++failed_files;
    if (opt.json) {
      json tests = json::array();
      for (const auto& o : report.outcomes) {
        tests.push_back({{"name", o.name}, {"line", o.line}, {"passed", o.passed},
                         {"rule", o.rule_id}, {"failures", o.failures}});
      }
      out.push_back({{"file", file},
                     {"ok", report.ok()},
                     {"agreement", a.id().str()},
                     {"version", a.version()},
                     {"passed", report.passed},
                     {"failed", report.failed},
                     {"tests", tests},
                     {"uncovered_rules", report.uncovered_rules}});
      continue;
    }
    std::cout << fmt::format("{} (agreement {}, version {}…)\n", file, a.id().str(), a.short_version());
    for (const auto& o : report.outcomes) {
      if (o.passed) {
        std::cout << fmt::format("  PASS  {}\n", o.name);
      } else {
        std::cout << fmt::format("  FAIL  {} (line {})\n", o.name, o.line);
        for (const auto& f : o.failures) std::cout << fmt::format("          {}\n", f);
      }
    }
    if (report.outcomes.empty()) std::cout << "  no tests: an agreement must carry tests\n";
    const size_t rules = a.rules().size();
    std::cout << fmt::format("  {} passed, {} failed; rule coverage: {} of {} rules exercised\n",
                             report.passed, report.failed, rules - report.uncovered_rules.size(),
                             rules);
    for (const auto& r : report.uncovered_rules) {
      std::cout << fmt::format("  rule {} is not exercised by any test\n", r);
    }
  }
  if (opt.json) print_json(out);
  if (failed_files > 0) {
    return fail(make_error(Errc::kInvalidInput,
                           fmt::format("{} of {} agreement files failed their tests", failed_files,
                                       opt.files.size()),
                           "policy test"));
  }
  return kExitOk;
}

int run_explain(const PolicyOptions& opt) {
  if (opt.lang != "en" && opt.lang != "ar") return usage_error("--lang must be en or ar");
  if (!is_valid_record_id(opt.record)) return usage_error("--record is not a valid record id");
  if (!is_valid_org_id(opt.peer)) return usage_error("--peer is not a valid organisation id");
  auto now = evaluation_time(opt.at);
  if (!now) return usage_error(now.error().what);
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto set = pol::load_policy_dir(node.value().home.policies_dir(), node.value().schema);
  if (!set) return fail(set.error());
  const auto agreement = set.value().for_peer(OrgId(opt.peer));
  if (!agreement) {
    return fail(make_error(Errc::kNotFound,
                           fmt::format("no agreement with peer {} is in force, so nothing is shared with it", opt.peer),
                           node.value().home.policies_dir().string()));
  }
  store::RecordStore records(*node.value().env);
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  auto record = records.get(txn.value(), RecordId(opt.record));
  if (!record) return fail(record.error());
  if (!record.value()) return fail(make_error(Errc::kNotFound, "no such record", opt.record));
  const FieldMap& fields = record.value()->fields;
  const auto decision = pol::decide(*agreement, pol::ShareRequest{fields, opt.purpose}, now.value());
  if (opt.json) {
    json leaves = json::array();
    for (const auto& [name, value] : decision.fields) {
      std::string transform = "none";
      for (const auto& t : decision.transformed) {
        if (t.field == name) transform = std::string(pol::transform_name(t.transform));
      }
      leaves.push_back({{"field", name}, {"transform", transform}});
    }
    json withheld = json::array();
    for (const auto& w : decision.withheld) {
      withheld.push_back({{"field", w.field}, {"reason", pol::withheld_reason_name(w.reason)}});
    }
    print_json({{"record", opt.record},
                {"peer", opt.peer},
                {"agreement", agreement->id().str()},
                {"version", agreement->version()},
                {"shared", decision.allowed()},
                {"why", pol::decision_reason_name(decision.why)},
                {"rule", decision.rule_id},
                {"purpose", decision.purpose},
                {"leaves", leaves},
                {"withheld", withheld},
                {"reason", decision.reason}});
    return kExitOk;
  }
  std::cout << pol::explain_decision(*agreement, opt.record, fields, decision, now.value(),
                                     opt.lang == "ar" ? pol::Language::kArabic
                                                      : pol::Language::kEnglish);
  return kExitOk;
}

Result<pol::CompiledAgreement> compile_file(const std::string& file, const RecordSchema& schema) {
  auto src = YamlSource::from_file(file);
  auto compiled = pol::compile_agreement(src, schema);
  if (!compiled) print_diagnostics(src);
  return compiled;
}

int run_diff(const PolicyOptions& opt) {
  if (opt.files.size() != 2) return usage_error("policy diff needs OLD.yaml and NEW.yaml");
  auto at = evaluation_time(opt.at);
  if (!at) return usage_error(at.error().what);
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto old_agreement = compile_file(opt.files[0], node.value().schema);
  if (!old_agreement) return fail(make_error(Errc::kInvalidInput, "OLD agreement has errors", opt.files[0]));
  auto new_agreement = compile_file(opt.files[1], node.value().schema);
  if (!new_agreement) return fail(make_error(Errc::kInvalidInput, "NEW agreement has errors", opt.files[1]));
  if (old_agreement.value().peer() != new_agreement.value().peer()) {
    return fail(make_error(Errc::kInvalidInput,
                           fmt::format("the agreements govern different peers ({} and {})",
                                       old_agreement.value().peer().str(),
                                       new_agreement.value().peer().str()),
                           "policy diff"));
  }
  pol::DisclosureDiff diff(old_agreement.value(), new_agreement.value(), opt.purpose, at.value());
  store::RecordStore records(*node.value().env);
  {
    auto txn = node.value().env->read();
    if (!txn) return fail(txn.error());
    auto scanned = records.for_each(txn.value(), [&](const Record& r) {
      diff.add(r.fields);
      return true;
    });
    if (!scanned) return fail(scanned.error());
  }
  const auto report = diff.report();
  if (opt.json) {
    json fields = json::array();
    for (const auto& f : report.fields) {
      fields.push_back({{"field", f.field},
                        {"newly_leaves", f.newly_leaves},
                        {"stops_leaving", f.stops_leaving},
                        {"changes_form", f.changes_form}});
    }
    print_json({{"peer", report.peer},
                {"old", {{"agreement", report.old_agreement}, {"version", report.old_version}}},
                {"new", {{"agreement", report.new_agreement}, {"version", report.new_version}}},
                {"evaluated_on", report.at},
                {"records", report.records},
                {"shared_before", report.shared_before},
                {"shared_after", report.shared_after},
                {"newly_shared", report.newly_shared},
                {"no_longer_shared", report.no_longer_shared},
                {"fields", fields},
                {"rule_changes", report.rule_changes}});
  } else {
    std::cout << pol::render_diff(report);
  }
  return kExitOk;
}

int run_apply(const PolicyOptions& opt) {
  if (opt.files.size() != 1) return usage_error("policy apply takes exactly one FILE");
  const std::string& file = opt.files.front();
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto& n = node.value();
  auto text = read_file(file, kMaxYamlBytes);
  if (!text) return fail(text.error());
  auto src = YamlSource::from_string(text.value(), file);
  auto compiled = pol::compile_agreement_file(src, n.schema);
  if (!compiled) {
    print_diagnostics(src);
    return fail(make_error(Errc::kInvalidInput, "the agreement does not pass check; nothing applied", file));
  }
  const auto report = pol::run_embedded_tests(compiled.value());
  if (!report.ok()) {
    for (const auto& o : report.outcomes) {
      if (o.passed) continue;
      std::cerr << fmt::format("FAIL  {} (line {})\n", o.name, o.line);
      for (const auto& f : o.failures) std::cerr << "      " << f << "\n";
    }
    return fail(make_error(Errc::kInvalidInput,
                           report.outcomes.empty()
                               ? std::string("the agreement has no tests; nothing applied")
                               : fmt::format("{} of {} embedded tests failed; nothing applied",
                                             report.failed, report.outcomes.size()),
                           file));
  }
  const auto& a = compiled.value().agreement;
  const auto target = n.home.policies_dir() / (a.id().str() + ".yaml");
  // Other files that govern the same peer would make the set ambiguous (two agreements for
  // one peer): the applied one replaces them. Their text stays in the version history.
  std::vector<std::filesystem::path> superseded;
  std::error_code ec;
  if (std::filesystem::exists(n.home.policies_dir(), ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(n.home.policies_dir(), ec)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
      if (entry.path().filename() == target.filename()) continue;
      auto other_src = YamlSource::from_file(entry.path());
      auto other = pol::compile_agreement(other_src, n.schema);
      if (other && other.value().peer() == a.peer()) superseded.push_back(entry.path());
    }
  }
  // History first: a policy change is on record before it can take effect.
  PolicyStore policies(*n.env);
  audit::AuditLog audit_log(*n.env, n.config.org.str());
  auto recorded = policies.record_apply(a, text.value(), SystemClock().now(), &audit_log);
  if (!recorded) return fail(recorded.error());
  std::filesystem::create_directories(n.home.policies_dir(), ec);
  if (auto w = write_file_atomic(target, text.value(), 0644); !w) return fail(w.error());
  for (const auto& old : superseded) {
    std::filesystem::remove(old, ec);
    if (ec) return fail(make_error(Errc::kIo, "cannot remove superseded agreement: " + ec.message(), old.string()));
  }
  std::string reload = "not running";
  if (std::filesystem::exists(n.home.admin_socket(), ec)) {
    auto reply = net::admin_request(n.home.admin_socket(), R"({"cmd":"reload"})", kReloadTimeout);
    if (!reply) {
      if (reply.error().code != Errc::kDisconnected) return fail(reply.error());
      reload = "not running";  // a stale socket file: the node loads the file when it starts
    } else {
      const auto parsed = json::parse(reply.value(), nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object() || !parsed.value("ok", false)) {
        std::string why = "no reason given";
        if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
          why = parsed["error"].get<std::string>();
        }
        return fail(make_error(Errc::kInternal,
                               "the running node refused to reload its agreements (" + why +
                                   "); the file is applied and will be used at the next start",
                               n.home.admin_socket().string()));
      }
      reload = "reloaded";
    }
  }
  const bool changed = recorded.value().has_value();
  const std::string previous = changed ? recorded.value()->previous : a.version();
  if (opt.json) {
    json superseded_json = json::array();
    for (const auto& p : superseded) superseded_json.push_back(p.string());
    print_json({{"agreement", a.id().str()},
                {"peer", a.peer().str()},
                {"version", a.version()},
                {"previous", previous},
                {"changed", changed},
                {"file", target.string()},
                {"superseded", superseded_json},
                {"node", reload}});
    return kExitOk;
  }
  if (changed) {
    std::cout << fmt::format("applied agreement {} for peer {} ({} tests passed)\n", a.id().str(),
                             a.peer().str(), report.passed);
  } else {
    std::cout << fmt::format("agreement {} for peer {} is already active at this version\n",
                             a.id().str(), a.peer().str());
  }
  std::cout << fmt::format("  version:  {}\n", a.version())
            << fmt::format("  previous: {}\n", previous.empty() ? "none" : previous)
            << fmt::format("  file:     {}\n", target.string());
  for (const auto& p : superseded) std::cout << fmt::format("  replaced: {}\n", p.string());
  std::cout << fmt::format("  node:     {}\n", reload == "reloaded"
                                                   ? "reloaded"
                                                   : "not running (the agreement is used when it starts)");
  return kExitOk;
}

int run_history(const PolicyOptions& opt) {
  if (!opt.peer.empty() && !is_valid_org_id(opt.peer)) {
    return usage_error("--peer is not a valid organisation id");
  }
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  PolicyStore policies(*node.value().env);
  auto history = policies.history();
  if (!history) return fail(history.error());
  std::map<std::string, std::string> active;
  for (const auto& e : history.value()) active[e.peer] = e.hash;
  json out = json::array();
  if (!opt.json) {
    std::cout << fmt::format("{:<4} {:<24} {:<24} {:<8} {:<12} {:<12}\n", "#", "time (UTC)",
                             "agreement", "peer", "version", "previous");
  }
  for (const auto& e : history.value()) {
    if (!opt.peer.empty() && e.peer != opt.peer) continue;
    const bool is_active = active[e.peer] == e.hash;
    if (opt.json) {
      out.push_back({{"seq", e.seq},
                     {"time", format_utc(e.at)},
                     {"agreement", e.agreement},
                     {"peer", e.peer},
                     {"version", e.hash},
                     {"previous", e.previous},
                     {"active", is_active}});
    } else {
      std::cout << fmt::format("{:<4} {:<24} {:<24} {:<8} {:<12} {:<12}{}\n", e.seq,
                               format_utc(e.at), e.agreement, e.peer, e.hash.substr(0, 12),
                               e.previous.empty() ? "-" : e.previous.substr(0, 12),
                               is_active ? "  (active)" : "");
    }
  }
  if (opt.json) print_json(out);
  return kExitOk;
}

void add_json_flag(CLI::App& cmd, PolicyOptions& opt) {
  cmd.add_flag("--json", opt.json, "print the result as JSON");
}

}  // namespace

void add_policy_command(CLI::App& app, Action& action) {
  auto* policy = app.add_subcommand("policy", "agreements: check, test, explain, diff, apply, history");
  policy->require_subcommand(1);

  {
    auto opt = std::make_shared<PolicyOptions>();
    auto* cmd = policy->add_subcommand("check", "validate agreement files; every error as FILE:LINE:COL");
    cmd->add_option("--dir", opt->dir, "node home (its schema); default: the built-in missing-person schema");
    cmd->add_option("files", opt->files, "agreement files")->required();
    add_json_flag(*cmd, *opt);
    cmd->callback([opt, &action] { action = [opt] { return run_check(*opt); }; });
  }
  {
    auto opt = std::make_shared<PolicyOptions>();
    auto* cmd = policy->add_subcommand("test", "run the tests embedded in agreement files");
    cmd->add_option("--dir", opt->dir, "node home (its schema); default: the built-in missing-person schema");
    cmd->add_option("files", opt->files, "agreement files")->required();
    add_json_flag(*cmd, *opt);
    cmd->callback([opt, &action] { action = [opt] { return run_test(*opt); }; });
  }
  {
    auto opt = std::make_shared<PolicyOptions>();
    auto* cmd = policy->add_subcommand("explain", "explain in plain words what would be shared of one record");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--peer", opt->peer, "peer organisation")->required();
    cmd->add_option("--record", opt->record, "local record id")->required();
    cmd->add_option("--lang", opt->lang, "en or ar")->capture_default_str();
    cmd->add_option("--purpose", opt->purpose, "purpose of the disclosure (default: the agreement's first)");
    cmd->add_option("--at", opt->at, "decide as on this day, YYYY-MM-DD (default: now)");
    add_json_flag(*cmd, *opt);
    cmd->callback([opt, &action] { action = [opt] { return run_explain(*opt); }; });
  }
  {
    auto opt = std::make_shared<PolicyOptions>();
    auto* cmd = policy->add_subcommand("diff", "preview the disclosure impact of replacing OLD by NEW (changes nothing)");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("files", opt->files, "OLD.yaml NEW.yaml")->required()->expected(2);
    cmd->add_option("--purpose", opt->purpose, "purpose (default: each agreement's first)");
    cmd->add_option("--at", opt->at, "evaluate as on this day, YYYY-MM-DD (default: now)");
    add_json_flag(*cmd, *opt);
    cmd->callback([opt, &action] { action = [opt] { return run_diff(*opt); }; });
  }
  {
    auto opt = std::make_shared<PolicyOptions>();
    auto* cmd = policy->add_subcommand("apply", "check, test, record and activate an agreement; reload a running node");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("file", opt->files, "agreement file")->required()->expected(1);
    add_json_flag(*cmd, *opt);
    cmd->callback([opt, &action] { action = [opt] { return run_apply(*opt); }; });
  }
  {
    auto opt = std::make_shared<PolicyOptions>();
    auto* cmd = policy->add_subcommand("history", "list applied agreement versions");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--peer", opt->peer, "only this peer");
    add_json_flag(*cmd, *opt);
    cmd->callback([opt, &action] { action = [opt] { return run_history(*opt); }; });
  }
}

}  // namespace jisr::app
