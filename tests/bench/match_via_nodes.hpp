// match_via_nodes: a match job between two real nodes, for the quality and speed programs.
// The platform node (mpfp) holds file A, the institution node (iimp) file B, each imported with
// its mapping from deploy/demo and under the linkage-evaluation agreements of
// deploy/demo/linkage/ (both methods, default key kinds, a low Bloom threshold to sweep over);
// the platform runs `jisr match --method M` against the institution over mutually
// authenticated TLS and the real protocol, and its candidates come back from `jisr matches
// list`. Only the evaluation needs to know which record of B stands behind each opaque
// handle: it owns both nodes, so after they stop it reads the institution's handle map
// (exchange::record_behind_handle), which no peer ever sees.
// Thread-safety: none.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/node_home.hpp"
#include "node/exchange/match_engine.hpp"
#include "node/store/env.hpp"
#include "tests/bench/node_pair.hpp"

namespace jisr::bench {

struct NodeCandidate {
  std::string a_id;  // the platform's record
  std::string b_id;  // the institution's record behind the handle
  double score = 0;  // psi: evidence in bits; bloom: 0..1
};

struct NodeMatchRun {
  std::string method;
  bool ok = false;
  std::string error;  // when !ok: what `jisr match` said
  double seconds = 0;  // wall time of `jisr match` (keys, TLS, responder, intersection, store)
  uint64_t query_records = 0;
  uint64_t set_aside = 0;  // pairs the querier set aside (a stronger claim by another record)
  std::vector<NodeCandidate> candidates;
};

inline std::vector<NodeMatchRun> match_via_nodes(const std::filesystem::path& jisr_bin,
                                                 const std::filesystem::path& source_dir,
                                                 const std::filesystem::path& a_csv,
                                                 const std::filesystem::path& b_csv,
                                                 const std::vector<std::string>& methods) {
  using Clock = std::chrono::steady_clock;
  NodePair nodes(jisr_bin, "match-quality");
  nodes.init("mpfp", "iimp");
  // Default limits: a job larger than a frame (arabic-dev's psi job is ~30 MB each way) is
  // uploaded in parts and answered in pages.
  const auto p = nodes.home("mpfp").string(), i = nodes.home("iimp").string();
  const auto demo = source_dir / "deploy/demo";
  nodes.must({"policy", "apply", "--dir", p, (demo / "linkage/mpfp-to-iimp.yaml").string()});
  nodes.must({"policy", "apply", "--dir", i, (demo / "linkage/iimp-to-mpfp.yaml").string()});
  nodes.must({"import", "--dir", p, "--mapping", (demo / "platform-reports.mapping.yaml").string(), a_csv.string()});
  nodes.must({"import", "--dir", i, "--mapping", (demo / "institution-cases.mapping.yaml").string(), b_csv.string()});
  std::vector<NodeMatchRun> runs;
  if (!nodes.serve("mpfp", "iimp")) {
    std::fprintf(stderr, "match_via_nodes: the nodes did not connect; see %s\n", nodes.dir().c_str());
    std::exit(1);
  }
  for (const auto& m : methods) {
    NodeMatchRun run;
    run.method = m;
    const auto t0 = Clock::now();
    const auto out = nodes.output({"match", "--dir", p, "--peer", "iimp", "--method", m, "--json", "--timeout", "3600"});
    run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    auto j = nlohmann::json::parse(out, nullptr, false);
    run.ok = !j.is_discarded() && j.is_object() && j.value("ok", false);
    if (!run.ok) run.error = nodes.last_error().empty() ? "jisr match failed" : nodes.last_error();
    while (!run.error.empty() && run.error.back() == '\n') run.error.pop_back();
    if (run.ok) {
      run.query_records = j.value("query_records", uint64_t{0});
      run.set_aside = j.value("set_aside", uint64_t{0});
    }
    runs.push_back(std::move(run));
  }
  const auto listed = nlohmann::json::parse(nodes.output({"matches", "list", "--dir", p, "--json"}), nullptr, false);
  nodes.stop();
  if (listed.is_discarded() || !listed.is_array()) {
    std::fprintf(stderr, "match_via_nodes: cannot list the candidates; see %s\n", nodes.dir().c_str());
    std::exit(1);
  }
  auto env = store::Env::open(NodeHome{nodes.home("iimp")}.data_dir());
  if (!env) {
    std::fprintf(stderr, "match_via_nodes: %s\n", env.error().message().c_str());
    std::exit(1);
  }
  auto txn = env.value()->read();
  if (!txn) std::exit(1);
  SystemClock clock;
  for (const auto& c : listed) {
    const auto behind = exchange::record_behind_handle(txn.value(), OrgId("mpfp"), c.value("handle", std::string()),
                                                       clock.now());
    if (!behind) continue;
    for (auto& run : runs) {
      if (run.method == c.value("method", std::string())) {
        run.candidates.push_back({c.value("record", std::string()), behind->str(), c.value("score", 0.0)});
      }
    }
  }
  return runs;
}

}  // namespace jisr::bench
