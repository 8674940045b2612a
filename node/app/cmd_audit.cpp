// `jisr audit log|verify|export|record|checkpoint`: the tamper-evident log (issue 7).
//   log        entries, filtered by time and kind (ids, hashes, field names; never values)
//   verify     the node's chain, checkpoints, counter and stored peer heads; or a bundle offline
//   export     a self-contained bundle (signs the head first so the bundle ends on a checkpoint)
//   record     every disclosure and withdrawal of one record: what a family may ask to see
//   checkpoint sign the current head now (the node also does it every N entries or T minutes)
// A stored peer head is checked against DIR/peers/ORG.sign.pub when that file exists (the
// peer's Ed25519 public key, hex, as the peer's own pki/sign.pub).
#include <fmt/format.h>
#include <sodium.h>

#include <cstdio>
#include <deque>
#include <iostream>

#include "node/app/cli.hpp"
#include "node/audit/audit_log.hpp"
#include "node/audit/bundle.hpp"
#include "node/audit/verify.hpp"
#include "node/core/file_io.hpp"
#include "node/core/ids.hpp"
#include "node/pki/pki.hpp"

namespace jisr::app {
namespace {

using nlohmann::json;

struct AuditOptionsCli {
  std::string dir;
  std::string since;
  std::string kind;
  std::string bundle;
  std::string pubkey;
  std::string out;
  std::string record_id;
  size_t limit = 0;
  bool json = false;
};

// "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "YYYY-MM-DDTHH:MM:SS" with an optional ".mmm" and "Z"; UTC.
std::optional<TimePoint> parse_time(std::string_view text) {
  using namespace std::chrono;
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    if (pos + n > text.size()) return std::nullopt;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  if (!text.empty() && text.back() == 'Z') text.remove_suffix(1);
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
  if (!y || !mo || !d || text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const year_month_day ymd{year(*y), month(static_cast<unsigned>(*mo)), day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return std::nullopt;
  int h = 0, mi = 0, s = 0, ms = 0;
  if (text.size() > 10) {
    auto hh = digits(11, 2), mm = digits(14, 2);
    if (text[10] != 'T' || !hh || !mm || text.size() < 16 || text[13] != ':') return std::nullopt;
    h = *hh;
    mi = *mm;
    if (text.size() > 16) {
      auto ss = digits(17, 2);
      if (text[16] != ':' || !ss) return std::nullopt;
      s = *ss;
      if (text.size() > 19) {
        auto mss = digits(20, 3);
        if (text[19] != '.' || !mss || text.size() != 23) return std::nullopt;
        ms = *mss;
      }
    }
    if (h > 23 || mi > 59 || s > 59) return std::nullopt;
  }
  return TimePoint(sys_days(ymd).time_since_epoch() + hours(h) + minutes(mi) + seconds(s) +
                   milliseconds(ms));
}

// "1 entry", "2 entries".
std::string counted(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string short_hash(std::string_view hex) { return std::string(hex.substr(0, 12)); }

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// One line per entry; members shown only when set.
std::string entry_line(const audit::AuditEntry& e) {
  const auto& ev = e.event;
  std::string line = fmt::format("{:>6}  {}  {:<20}", e.seq, format_utc(e.time), audit::kind_name(ev.kind));
  line += fmt::format(" actor={}", audit::actor_kind_name(ev.actor.kind));
  if (!ev.actor.id.empty()) line += ":" + ev.actor.id;
  if (!ev.peer.empty()) line += " peer=" + ev.peer;
  if (!ev.record_id.empty()) line += fmt::format(" record={} v{}", ev.record_id, ev.record_version);
  if (!ev.agreement_id.empty()) line += " agreement=" + ev.agreement_id;
  if (!ev.purpose.empty()) line += " purpose=" + ev.purpose;
  if (!ev.fields.empty()) line += " fields=" + join(ev.fields, ",");
  // The ids themselves are in --json and in `audit record ID`: a batch names thousands.
  if (!ev.records.empty()) line += fmt::format(" records={}", ev.records.size());
  if (!ev.counts.empty()) {
    std::vector<std::string> counts;
    for (const auto& [name, n] : ev.counts) counts.push_back(fmt::format("{}={}", name, n));
    line += " counts=" + join(counts, ",");
  }
  if (!ev.policy_hash.empty()) line += " policy=" + short_hash(ev.policy_hash);
  if (!ev.batch_hash.empty()) line += " batch=" + short_hash(ev.batch_hash);
  if (!ev.job_id.empty()) line += " job=" + ev.job_id;
  if (!ev.detail.empty()) line += " detail=\"" + ev.detail + "\"";
  return line;
}

Result<audit::CheckpointSigner> load_signer(const NodeHome& home) {
  JISR_TRY(auto key, pki::load_signing_key(home.sign_key()));
  audit::CheckpointSigner signer(key.secret);
  sodium_memzero(key.secret.data(), key.secret.size());
  return signer;
}

int run_log(const AuditOptionsCli& opt) {
  std::optional<TimePoint> since;
  if (!opt.since.empty()) {
    since = parse_time(opt.since);
    if (!since) return usage_error("--since: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z");
  }
  std::optional<audit::AuditKind> kind;
  if (!opt.kind.empty()) {
    kind = audit::parse_kind(opt.kind);
    if (!kind) {
      std::vector<std::string> names;
      for (auto k : audit::kAllKinds) names.emplace_back(audit::kind_name(k));
      return usage_error("--kind: unknown kind '" + opt.kind + "' (one of " + join(names, ", ") + ")");
    }
  }
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  std::deque<audit::AuditEntry> shown;  // the newest `limit` matches when a limit is set
  auto scanned = audit::AuditLog::for_each(txn.value(), 0, [&](const audit::AuditEntry& e) {
    if (since && e.time < *since) return true;
    if (kind && e.event.kind != *kind) return true;
    shown.push_back(e);
    if (opt.limit != 0 && shown.size() > opt.limit) shown.pop_front();
    return true;
  });
  if (!scanned) return fail(scanned.error());
  if (opt.json) {
    json out = json::array();
    for (const auto& e : shown) out.push_back(audit::entry_to_json(e));
    print_json(out);
    return kExitOk;
  }
  for (const auto& e : shown) std::cout << entry_line(e) << "\n";
  if (shown.empty()) std::cout << "no audit entries match\n";
  return kExitOk;
}

json report_json(const audit::VerifyReport& r) {
  json findings = json::array();
  for (const auto& f : r.findings) {
    findings.push_back({{"kind", audit::finding_kind_name(f.kind)}, {"seq", f.seq}, {"message", f.message}});
  }
  json out{{"ok", r.ok()},
           {"org", r.org},
           {"key", to_hex(r.key.data(), r.key.size())},
           {"entries", r.entries},
           {"first_seq", r.first_seq},
           {"last_seq", r.last_seq},
           {"checkpoints", r.checkpoints},
           {"valid_checkpoints", r.valid_checkpoints},
           {"unsigned_entries", r.unsigned_entries},
           {"peer_checkpoints", r.peer_checkpoints},
           {"findings", findings}};
  if (r.latest_valid_checkpoint) {
    out["latest_checkpoint"] = audit::checkpoint_to_json(*r.latest_valid_checkpoint);
  }
  return out;
}

int print_report(const audit::VerifyReport& r, bool as_json, const std::string& where) {
  if (as_json) {
    print_json(report_json(r));
  } else {
    std::cout << fmt::format("audit log of {}: {}", r.org, counted(r.entries, "entry", "entries"));
    if (r.entries) std::cout << fmt::format(" (seq {}..{})", r.first_seq, r.last_seq);
    std::cout << fmt::format(", {}, node key {}\n", counted(r.checkpoints, "checkpoint", "checkpoints"),
                             audit::key_fingerprint(r.key));
    if (r.latest_valid_checkpoint) {
      std::cout << fmt::format("latest signed checkpoint: seq {} at {}; {} after it\n",
                               r.latest_valid_checkpoint->seq,
                               format_utc(r.latest_valid_checkpoint->time),
                               counted(r.unsigned_entries, "entry", "entries"));
    } else {
      std::cout << "no signed checkpoint yet\n";
    }
    if (r.peer_checkpoints) std::cout << fmt::format("peer checkpoints checked: {}\n", r.peer_checkpoints);
    for (const auto& f : r.findings) std::cout << "FAIL " << f.message << "\n";
    if (r.ok()) std::cout << "ok: the chain, its checkpoints and its counter verify\n";
  }
  if (!r.ok()) {
    return fail(make_error(Errc::kInvalidInput,
                           fmt::format("audit verification failed: {} problem{}", r.findings.size(),
                                       r.findings.size() == 1 ? "" : "s"),
                           where));
  }
  return kExitOk;
}

int run_verify(const AuditOptionsCli& opt) {
  if (opt.dir.empty() == opt.bundle.empty()) {
    return usage_error("give exactly one of --dir DIR or --bundle FILE");
  }
  if (!opt.pubkey.empty() && opt.bundle.empty()) return usage_error("--pubkey goes with --bundle");
  if (!opt.bundle.empty()) {
    std::optional<audit::PublicKey> expected;
    if (!opt.pubkey.empty()) {
      auto key = pki::load_public_key(opt.pubkey);
      if (!key) return fail(key.error());
      expected = key.value();
    }
    auto text = read_file(opt.bundle, audit::kMaxBundleBytes);
    if (!text) return fail(text.error());
    auto report = audit::verify_bundle(text.value(), expected);
    if (!report) return fail(make_error(report.error().code, report.error().what, opt.bundle));
    return print_report(report.value(), opt.json, opt.bundle);
  }
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto key = pki::load_public_key(node.value().home.sign_pub());
  if (!key) return fail(key.error());
  std::map<std::string, audit::PublicKey> peer_keys;
  for (const auto& peer : node.value().config.peers) {
    const auto path = node.value().home.peers_dir() / (peer.org.str() + ".sign.pub");
    if (!std::filesystem::exists(path)) continue;
    auto peer_key = pki::load_public_key(path);
    if (!peer_key) return fail(peer_key.error());
    peer_keys[peer.org.str()] = peer_key.value();
  }
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  auto report = audit::verify_store(txn.value(), node.value().config.org.str(), key.value(), peer_keys);
  if (!report) return fail(report.error());
  return print_report(report.value(), opt.json, opt.dir);
}

int run_export(const AuditOptionsCli& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto signer = load_signer(node.value().home);
  if (!signer) return fail(signer.error());
  const std::string org = node.value().config.org.str();
  audit::AuditLog log(*node.value().env, org);
  SystemClock clock;
  const TimePoint now = clock.now();
  // Sign the head and read everything in one transaction, so the bundle ends exactly on the
  // checkpoint it carries.
  auto bundle = node.value().env->write([&](store::WriteTxn& txn) -> Result<json> {
    JISR_TRY(auto head, audit::AuditLog::head(txn));
    if (head.seq != 0) {
      JISR_TRY(log.checkpoint_now(txn, now, signer.value()));
    }
    return audit::export_bundle(txn, org, signer.value().public_key(), now);
  });
  if (!bundle) return fail(bundle.error());
  const auto& b = bundle.value();
  if (auto w = write_file_atomic(opt.out, b.dump(1) + "\n", 0600); !w) return fail(w.error());
  const size_t n = b["entries"].size();
  if (opt.json) {
    print_json({{"out", opt.out}, {"entries", n}, {"checkpoints", b["checkpoints"].size()},
                {"public_key", b["public_key"]}});
  } else {
    std::cout << fmt::format("exported {} and {} of {} to {}\n", counted(n, "entry", "entries"),
                             counted(b["checkpoints"].size(), "checkpoint", "checkpoints"), org, opt.out)
              << fmt::format("node public key: {}\n", b["public_key"].get<std::string>())
              << "verify offline with: jisr audit verify --bundle FILE [--pubkey SIGN.PUB]\n";
  }
  return kExitOk;
}

int run_record(const AuditOptionsCli& opt) {
  if (!is_valid_record_id(opt.record_id)) return usage_error("ID is not a valid record id");
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  using audit::AuditKind;
  std::vector<audit::AuditEntry> disclosures, withdrawals, other;
  // TODO(perf): a record-id index table if logs grow past millions of entries.
  auto scanned = audit::AuditLog::for_each(txn.value(), 0, [&](const audit::AuditEntry& e) {
    if (e.event.kind == AuditKind::kBatchDisclosed) {
      // One entry names every record of a batch: each version of this record in it is one
      // disclosure, shown as if it had an entry of its own (same seq, kind batch_disclosed).
      for (const auto& [id, version] : e.event.records) {
        if (id != opt.record_id) continue;
        audit::AuditEntry one = e;
        one.event.records.clear();
        one.event.record_id = id;
        one.event.record_version = version;
        disclosures.push_back(std::move(one));
      }
      return true;
    }
    if (e.event.record_id != opt.record_id) return true;
    switch (e.event.kind) {
      case AuditKind::kRecordDisclosed:
      case AuditKind::kReveal: disclosures.push_back(e); break;
      case AuditKind::kWithdrawalSent:
      case AuditKind::kWithdrawalConfirmed: withdrawals.push_back(e); break;
      case AuditKind::kRecordDeleted: other.push_back(e); break;
      default: break;  // kinds about peers' records (received, dropped) use their ids
    }
    return true;
  });
  if (!scanned) return fail(scanned.error());
  auto item = [](const audit::AuditEntry& e) {
    return json{{"seq", e.seq},
                {"time", format_utc(e.time)},
                {"kind", audit::kind_name(e.event.kind)},
                {"peer", e.event.peer},
                {"record_version", e.event.record_version},
                {"agreement_id", e.event.agreement_id},
                {"policy_hash", e.event.policy_hash},
                {"purpose", e.event.purpose},
                {"fields", e.event.fields},
                {"batch_hash", e.event.batch_hash}};
  };
  if (opt.json) {
    json d = json::array(), w = json::array(), o = json::array();
    for (const auto& e : disclosures) d.push_back(item(e));
    for (const auto& e : withdrawals) w.push_back(item(e));
    for (const auto& e : other) o.push_back(item(e));
    print_json({{"record_id", opt.record_id}, {"disclosures", d}, {"withdrawals", w}, {"other", o}});
    return kExitOk;
  }
  std::cout << fmt::format("record {}: {} disclosure{}, {} withdrawal event{}\n", opt.record_id,
                           disclosures.size(), disclosures.size() == 1 ? "" : "s",
                           withdrawals.size(), withdrawals.size() == 1 ? "" : "s");
  auto print = [](const audit::AuditEntry& e) {
    std::string line = fmt::format("  {}  seq {}  {} to {}  version {}", format_utc(e.time), e.seq,
                                   audit::kind_name(e.event.kind), e.event.peer, e.event.record_version);
    if (!e.event.agreement_id.empty()) line += "  agreement " + e.event.agreement_id;
    if (!e.event.purpose.empty()) line += "  purpose " + e.event.purpose;
    if (!e.event.fields.empty()) line += "  fields " + join(e.event.fields, ",");
    std::cout << line << "\n";
  };
  for (const auto& e : disclosures) print(e);
  for (const auto& e : withdrawals) print(e);
  for (const auto& e : other) print(e);
  return kExitOk;
}

int run_checkpoint(const AuditOptionsCli& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto signer = load_signer(node.value().home);
  if (!signer) return fail(signer.error());
  audit::AuditLog log(*node.value().env, node.value().config.org.str());
  SystemClock clock;
  auto cp = node.value().env->write([&](store::WriteTxn& txn) {
    return log.checkpoint_now(txn, clock.now(), signer.value());
  });
  if (!cp) return fail(cp.error());
  if (opt.json) {
    print_json(audit::checkpoint_to_json(cp.value()));
  } else {
    std::cout << fmt::format("checkpoint: seq {} head {} signed at {}\n", cp.value().seq,
                             to_hex(cp.value().head), format_utc(cp.value().time));
  }
  return kExitOk;
}

}  // namespace

void add_audit_command(CLI::App& app, Action& action) {
  auto* audit = app.add_subcommand("audit", "the tamper-evident audit log");
  audit->require_subcommand(1);

  {
    auto opt = std::make_shared<AuditOptionsCli>();
    auto* cmd = audit->add_subcommand("log", "show audit entries (ids, hashes, field names; never values)");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--since", opt->since, "only entries at or after TIME (YYYY-MM-DD[THH:MM[:SS]Z], UTC)");
    cmd->add_option("--kind", opt->kind, "only entries of this kind (e.g. record_disclosed)");
    cmd->add_option("--limit", opt->limit, "only the newest N matching entries");
    cmd->add_flag("--json", opt->json, "print the entries as JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_log(*opt); }; });
  }
  {
    auto opt = std::make_shared<AuditOptionsCli>();
    auto* cmd = audit->add_subcommand(
        "verify", "verify the node's chain, checkpoints and peer heads, or an exported bundle");
    cmd->add_option("--dir", opt->dir, "node home directory");
    cmd->add_option("--bundle", opt->bundle, "verify an exported bundle offline instead");
    cmd->add_option("--pubkey", opt->pubkey, "with --bundle: the org's published sign.pub to require");
    cmd->add_flag("--json", opt->json, "print the report as JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_verify(*opt); }; });
  }
  {
    auto opt = std::make_shared<AuditOptionsCli>();
    auto* cmd = audit->add_subcommand("export", "write a self-contained, verifiable bundle of the log");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--out", opt->out, "bundle file to write (JSON, mode 0600)")->required();
    cmd->add_flag("--json", opt->json, "print the result as JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_export(*opt); }; });
  }
  {
    auto opt = std::make_shared<AuditOptionsCli>();
    auto* cmd = audit->add_subcommand("record", "every disclosure and withdrawal of one record");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("ID", opt->record_id, "local record id")->required();
    cmd->add_flag("--json", opt->json, "print the result as JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_record(*opt); }; });
  }
  {
    auto opt = std::make_shared<AuditOptionsCli>();
    auto* cmd = audit->add_subcommand("checkpoint", "sign the current head of the log now");
    add_dir_option(*cmd, opt->dir);
    cmd->add_flag("--json", opt->json, "print the checkpoint as JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_checkpoint(*opt); }; });
  }
}

}  // namespace jisr::app
