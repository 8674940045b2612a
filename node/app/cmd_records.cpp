// `jisr records count|list|show`: the local records. Only `show` prints field values: its job
// is to show one record to someone entitled to see it.
#include <fmt/format.h>

#include <iostream>

#include "node/app/cli.hpp"
#include "node/store/record_store.hpp"

namespace jisr::app {
namespace {

struct RecordsOptions {
  std::string dir;
  std::string id;
  std::string after;
  size_t limit = 100;
  bool json = false;
};

int run_count(const RecordsOptions& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  store::RecordStore records(*node.value().env);
  const auto n = records.count(txn.value());
  if (opt.json) {
    print_json({{"records", n}, {"last_seq", records.last_seq(txn.value())}});
  } else {
    std::cout << n << "\n";
  }
  return kExitOk;
}

int run_list(const RecordsOptions& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  store::RecordStore records(*node.value().env);
  nlohmann::json rows = nlohmann::json::array();
  size_t n = 0;
  std::string next_after;
  auto r = records.for_each(txn.value(), [&](const Record& rec) {
    if (!opt.after.empty() && rec.id.str() <= opt.after) return true;
    if (n == opt.limit) {
      next_after = rows.back()["id"];
      return false;
    }
    ++n;
    rows.push_back({{"id", rec.id.str()},
                    {"version", rec.version},
                    {"seq", rec.seq},
                    {"fields", rec.fields.size()}});
    return true;
  });
  if (!r) return fail(r.error());
  if (opt.json) {
    print_json({{"records", rows}, {"next_after", next_after.empty() ? nlohmann::json() : nlohmann::json(next_after)}});
    return kExitOk;
  }
  std::cout << fmt::format("{:<24} {:>7} {:>10} {:>6}\n", "ID", "VERSION", "SEQ", "FIELDS");
  for (const auto& row : rows) {
    std::cout << fmt::format("{:<24} {:>7} {:>10} {:>6}\n", row["id"].get<std::string>(),
                             row["version"].get<uint64_t>(), row["seq"].get<uint64_t>(),
                             row["fields"].get<size_t>());
  }
  if (!next_after.empty()) {
    std::cout << fmt::format("(more: --after {})\n", next_after);
  }
  return kExitOk;
}

int run_show(const RecordsOptions& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto txn = node.value().env->read();
  if (!txn) return fail(txn.error());
  store::RecordStore records(*node.value().env);
  auto rec = records.get(txn.value(), RecordId(opt.id));
  if (!rec) return fail(rec.error());
  if (!rec.value()) return fail(make_error(Errc::kNotFound, "no such record", opt.id));
  const auto& r = *rec.value();
  if (opt.json) {
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& [k, v] : r.fields) fields[k] = v;
    print_json({{"id", r.id.str()}, {"version", r.version}, {"seq", r.seq}, {"fields", fields}});
    return kExitOk;
  }
  std::cout << fmt::format("record {} (version {}, change {})\n", r.id.str(), r.version, r.seq);
  for (const auto& [k, v] : r.fields) std::cout << fmt::format("  {:<22} {}\n", k, v);
  return kExitOk;
}

}  // namespace

void add_records_command(CLI::App& app, Action& action) {
  auto* group = app.add_subcommand("records", "local records: count, list, show");
  group->require_subcommand(1);
  {
    auto opt = std::make_shared<RecordsOptions>();
    auto* cmd = group->add_subcommand("count", "number of local records");
    add_dir_option(*cmd, opt->dir);
    cmd->add_flag("--json", opt->json, "print JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_count(*opt); }; });
  }
  {
    auto opt = std::make_shared<RecordsOptions>();
    auto* cmd = group->add_subcommand("list", "record ids, versions and change numbers (no field values)");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("--limit", opt->limit, "at most this many records")->capture_default_str()->check(CLI::Range(1, 1000000));
    cmd->add_option("--after", opt->after, "start after this record id (paging)");
    cmd->add_flag("--json", opt->json, "print JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_list(*opt); }; });
  }
  {
    auto opt = std::make_shared<RecordsOptions>();
    auto* cmd = group->add_subcommand("show", "every field of one record");
    add_dir_option(*cmd, opt->dir);
    cmd->add_option("id", opt->id, "record id")->required();
    cmd->add_flag("--json", opt->json, "print JSON");
    cmd->callback([opt, &action] { action = [opt] { return run_show(*opt); }; });
  }
}

}  // namespace jisr::app
