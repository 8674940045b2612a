// match_quality A.csv B.csv truth.csv [hard_negatives.csv] [--jisr PATH] [--in-process|--nodes-only]
//
// Linkage quality of both match methods, measured twice in one run:
// 1. Through two real nodes (the headline figures): a platform node holding A and an
//    institution node holding B, imported with the mappings of deploy/demo and under the
//    linkage agreements of deploy/demo/linkage; `jisr match --method psi|bloom` runs over TLS
//    and the real protocol, and the platform's stored candidates are scored against the truth
//    (tests/bench/match_via_nodes.hpp). Also prints each job's end-to-end time.
// 2. In one process through the node/match API, for diagnosis, with the baselines without
//    privacy measured on the same records: exact normalised keys (the PSI keys in clear) and
//    fuzzy field similarity (the Bloom grams in clear).
//   psi   : querier (A) and responder (B) each blind their keys with a per-job secret, the
//           responder re-blinds the querier's points, the querier re-blinds the responder's
//           points and intersects; the decision uses only which key kinds matched.
//   bloom : both sides derive the agreement secret from X25519 of their node keys, encode
//           their records, block, compare by Dice and sweep the threshold.
// Prints precision, recall and F1 for each; hard-negative pairs (relatives, namesakes) that a
// method predicts are counted as false positives and also reported on their own.
// The in-process part maps the arabic-dev columns itself (below), so it runs on its own.
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "adapters/column_mapping.hpp"
#include "adapters/csv_reader.hpp"
#include "node/core/record.hpp"
#include "node/core/record_schema.hpp"
#include "node/match/bloom.hpp"
#include "node/match/features.hpp"
#include "node/match/keys.hpp"
#include "node/match/match_spec.hpp"
#include "node/match/psi.hpp"
#include "node/match/scorer.hpp"
#include "tests/bench/match_via_nodes.hpp"

using namespace jisr;
using namespace jisr::match;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int column(const std::string& name) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
};

bool read_csv(const std::string& path, Table& out) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    std::fprintf(stderr, "match_quality: cannot open %s\n", path.c_str());
    return false;
  }
  FILE* fp = f.get();
  adapters::CsvReader reader([fp](char* buf, size_t max) -> Result<size_t> {
    return std::fread(buf, 1, max, fp);
  });
  bool first = true;
  for (;;) {
    auto row = reader.next();
    if (!row) {
      std::fprintf(stderr, "match_quality: %s: %s\n", path.c_str(), row.error().message().c_str());
      return false;
    }
    if (!row.value()) break;
    if (row.value()->error) continue;  // bad rows are skipped, as the importer does
    if (first) {
      out.header = std::move(row.value()->fields);
      first = false;
    } else {
      out.rows.push_back(std::move(row.value()->fields));
    }
  }
  return true;
}

struct Dataset {
  std::vector<std::string> ids;
  std::vector<FieldMap> records;
};

// mapping: record field <- CSV column; values through an optional translation table.
Dataset map_table(const Table& t, const std::string& id_column,
                  const std::vector<std::pair<std::string, std::string>>& mapping,
                  const std::map<std::string, std::string>& values) {
  Dataset d;
  int id_col = t.column(id_column);
  std::vector<int> cols;
  for (const auto& [field, column] : mapping) cols.push_back(t.column(column));
  for (const auto& row : t.rows) {
    if (id_col < 0 || static_cast<size_t>(id_col) >= row.size()) continue;
    FieldMap m;
    for (size_t k = 0; k < mapping.size(); ++k) {
      if (cols[k] < 0 || static_cast<size_t>(cols[k]) >= row.size()) continue;
      std::string v = row[cols[k]];
      // As `jisr import` does: translations match after folding case and letter variants.
      if (auto it = values.find(adapters::fold_value_key(v)); it != values.end()) v = it->second;
      m.set(mapping[k].first, v);
    }
    d.ids.push_back(row[id_col]);
    d.records.push_back(std::move(m));
  }
  return d;
}

using PairSet = std::set<std::pair<std::string, std::string>>;

PairSet read_pairs(const std::string& path) {
  Table t;
  PairSet out;
  if (!read_csv(path, t)) return out;
  for (const auto& r : t.rows) {
    if (r.size() >= 2) out.emplace(r[0], r[1]);
  }
  return out;
}

struct Quality {
  size_t predicted = 0, tp = 0, fp = 0, hard_fp = 0;
  double precision = 0, recall = 0, f1 = 0;
};

Quality evaluate(const PairSet& predicted, const PairSet& truth, const PairSet& hard) {
  Quality q;
  q.predicted = predicted.size();
  for (const auto& p : predicted) {
    if (truth.count(p)) {
      ++q.tp;
    } else {
      ++q.fp;
      if (hard.count(p)) ++q.hard_fp;
    }
  }
  q.precision = q.predicted ? double(q.tp) / double(q.predicted) : 0.0;
  q.recall = truth.empty() ? 0.0 : double(q.tp) / double(truth.size());
  q.f1 = q.precision + q.recall > 0 ? 2 * q.precision * q.recall / (q.precision + q.recall) : 0.0;
  return q;
}

void print_quality(const char* name, const Quality& q, const std::string& extra = {}) {
  std::printf("%-22s precision %.4f  recall %.4f  F1 %.4f  (predicted %zu, tp %zu, fp %zu, "
              "hard-negative fp %zu)%s\n",
              name, q.precision, q.recall, q.f1, q.predicted, q.tp, q.fp, q.hard_fp,
              extra.c_str());
}

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// A scored pair: querier record, responder record, score.
struct Scored {
  uint32_t a = 0, b = 0;
  double score = 0;
};

// Keeps, for each querier record, the candidates whose score is within `margin` of its best
// (the responder holds one record per person, so a report describes at most one of them).
std::vector<Scored> best_per_querier(std::vector<Scored> in, double margin) {
  std::unordered_map<uint32_t, double> best;
  for (const auto& s : in) best[s.a] = std::max(best[s.a], s.score);
  std::erase_if(in, [&](const Scored& s) { return s.score < best[s.a] - margin; });
  return in;
}

// What a querying node keeps of the pairs found (scorer.hpp resolve_claims): of two of its
// records claiming one peer record, the weaker is set aside unless its own records say they
// describe one person. Pairs below `floor` are dropped first, as a responder does below the
// agreement's threshold.
std::vector<Scored> resolve(const std::vector<Scored>& scored, double floor, const CompiledMatchSpec& cs,
                            const std::vector<RecordFeatures>& fa) {
  std::vector<Scored> kept;
  std::vector<Claim> claims;
  for (const auto& s : scored) {
    if (s.score < floor) continue;
    kept.push_back(s);
    claims.push_back({s.a, s.b, s.score});
  }
  auto aside = resolve_claims(claims, [&](uint32_t x, uint32_t y) { return same_person(cs, fa[x], fa[y]); });
  size_t k = 0;
  std::erase_if(kept, [&](const Scored&) { return aside[k++]; });
  return kept;
}

PairSet to_pairs(const std::vector<Scored>& scored, double threshold, const Dataset& a,
                 const Dataset& b) {
  PairSet out;
  for (const auto& s : scored) {
    if (s.score >= threshold) out.emplace(a.ids[s.a], b.ids[s.b]);
  }
  return out;
}

struct Sweep {
  double threshold = 0;
  Quality quality;
};

Sweep sweep(const std::vector<Scored>& scored, const PairSet& truth, const PairSet& hard,
            const Dataset& a, const Dataset& b) {
  Sweep best;
  for (int t = 200; t <= 999; t += 2) {
    double th = t / 1000.0;
    Quality q = evaluate(to_pairs(best_per_querier(scored, 0.0), th, a, b), truth, hard);
    if (q.f1 > best.quality.f1) best = Sweep{th, q};
  }
  return best;
}

std::string show(const FieldMap& m) {
  std::string out;
  for (const auto& [k, v] : m) out += k + "=" + v + " | ";
  return out;
}

// JISR_MATCH_QUALITY_EXPLAIN=N prints N false positives and N false negatives of a method
// (records in full: use only on synthetic data such as arabic-dev).
void explain(const char* method, const PairSet& predicted, const PairSet& truth,
             const Dataset& a, const Dataset& b,
             const std::function<std::string(uint32_t, uint32_t)>& why) {
  const char* env = std::getenv("JISR_MATCH_QUALITY_EXPLAIN");
  if (env == nullptr) return;
  int n = std::atoi(env);
  std::unordered_map<std::string, uint32_t> ia, ib;
  for (uint32_t i = 0; i < a.ids.size(); ++i) ia[a.ids[i]] = i;
  for (uint32_t j = 0; j < b.ids.size(); ++j) ib[b.ids[j]] = j;
  int shown = 0;
  for (const auto& p : predicted) {
    if (truth.count(p) || shown >= n) continue;
    ++shown;
    std::fprintf(stderr, "%s FP %s %s: %s\n  A: %s\n  B: %s\n", method, p.first.c_str(),
                 p.second.c_str(), why(ia[p.first], ib[p.second]).c_str(),
                 show(a.records[ia[p.first]]).c_str(), show(b.records[ib[p.second]]).c_str());
  }
  shown = 0;
  for (const auto& p : truth) {
    if (predicted.count(p) || shown >= n || !ia.count(p.first) || !ib.count(p.second)) continue;
    ++shown;
    std::fprintf(stderr, "%s FN %s %s: %s\n  A: %s\n  B: %s\n", method, p.first.c_str(),
                 p.second.c_str(), why(ia[p.first], ib[p.second]).c_str(),
                 show(a.records[ia[p.first]]).c_str(), show(b.records[ib[p.second]]).c_str());
  }
}

// Why true pairs were missed at `threshold`: never compared (blocking), scored below the
// threshold, or beaten by another candidate of the same report. With
// JISR_MATCH_QUALITY_EXPLAIN the pairs blocking missed are listed (records in full).
void false_negative_causes(const std::vector<Scored>& compared, const std::vector<Scored>& kept, double threshold,
                           const PairSet& truth, const Dataset& a, const Dataset& b) {
  std::map<std::pair<uint32_t, uint32_t>, double> score;
  std::set<std::pair<uint32_t, uint32_t>> kept_pairs;
  std::unordered_map<uint32_t, double> top;
  for (const auto& s : compared) score[{s.a, s.b}] = s.score;
  for (const auto& s : kept) {
    kept_pairs.emplace(s.a, s.b);
    top[s.a] = std::max(top[s.a], s.score);
  }
  std::unordered_map<std::string, uint32_t> ia, ib;
  for (uint32_t i = 0; i < a.ids.size(); ++i) ia[a.ids[i]] = i;
  for (uint32_t j = 0; j < b.ids.size(); ++j) ib[b.ids[j]] = j;
  const bool list = std::getenv("JISR_MATCH_QUALITY_EXPLAIN") != nullptr;
  int unblocked = 0, below = 0, beaten = 0, set_aside = 0;
  for (const auto& [x, y] : truth) {
    if (!ia.count(x) || !ib.count(y)) continue;
    const uint32_t i = ia[x], j = ib[y];
    auto it = score.find({i, j});
    if (it == score.end()) {
      ++unblocked;
      if (list) {
        std::fprintf(stderr, "not compared (blocking) %s %s\n  A: %s\n  B: %s\n", x.c_str(), y.c_str(),
                     show(a.records[i]).c_str(), show(b.records[j]).c_str());
      }
    } else if (it->second >= threshold && !kept_pairs.count({i, j})) {
      ++set_aside;
    } else if (it->second < top[i] && top[i] >= threshold) {
      ++beaten;
    } else if (it->second < threshold) {
      ++below;
    }
  }
  std::printf("  missed pairs: %d never compared (blocking), %d below the threshold, %d beaten by "
              "another candidate of the same report, %d set aside by a stronger claim\n", unblocked, below, beaten,
              set_aside);
}

// JISR_MATCH_QUALITY_ANALYSE=1 prints, per method, the most common patterns of field
// agreement among false negatives and false positives (aggregated counts only, no values):
// one letter per field, S same (similarity >= 0.95), s similar (>= 0.6), D different,
// - absent on either side; the birth date also as Y (years overlap), y (within the tolerance).
void analyse(const char* method, const CompiledMatchSpec& cs, const PairSet& predicted,
             const PairSet& truth, const Dataset& a,
             const Dataset& b, const std::vector<RecordFeatures>& fa,
             const std::vector<RecordFeatures>& fb,
             const std::map<std::pair<std::string, std::string>, std::string>& relation) {
  if (std::getenv("JISR_MATCH_QUALITY_ANALYSE") == nullptr) return;
  std::unordered_map<std::string, uint32_t> ia, ib;
  for (uint32_t i = 0; i < a.ids.size(); ++i) ia[a.ids[i]] = i;
  for (uint32_t j = 0; j < b.ids.size(); ++j) ib[b.ids[j]] = j;
  auto pattern = [&](uint32_t i, uint32_t j) {
    Score sc = score_features(cs, fa[i], fb[j]);
    std::string out(cs.fields.size(), '-');
    for (const auto& c : sc.fields) {
      char ch = c.similarity >= 0.95 ? 'S' : c.similarity >= 0.6 ? 's' : 'D';
      if (cs.fields[c.field].role == MatchRole::kDate) {
        int dist = fa[i].fields[c.field].date->years.distance(fb[j].fields[c.field].date->years);
        ch = dist == 0 ? 'Y' : dist <= cs.year_tolerance ? 'y' : 'D';
      }
      out[c.field] = ch;
    }
    if (sc.swapped) out += " swapped";
    return out;
  };
  std::string legend;
  for (const auto& f : cs.fields) legend += f.name.substr(0, 3) + " ";
  auto report = [&](const char* what, const std::map<std::string, int>& counts, int total) {
    std::vector<std::pair<int, std::string>> v;
    for (const auto& [k, n] : counts) v.emplace_back(n, k);
    std::sort(v.rbegin(), v.rend());
    std::fprintf(stderr, "%s %s: %d pairs; fields %s\n", method, what, total, legend.c_str());
    for (size_t k = 0; k < v.size() && k < 25; ++k) {
      std::fprintf(stderr, "  %5d  %s\n", v[k].first, v[k].second.c_str());
    }
  };
  std::map<std::string, int> fn, fp, fp_rel, fn_field, fn_names;
  int nfn = 0, nfp = 0;
  auto edit = [](const std::string& x, const std::string& y) {
    std::vector<size_t> row(y.size() + 1);
    for (size_t j = 0; j <= y.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= x.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= y.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (x[i - 1] == y[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    return row[y.size()];
  };
  for (const auto& p : truth) {
    if (predicted.count(p) || !ia.count(p.first) || !ib.count(p.second)) continue;
    ++nfn;
    std::string pat = pattern(ia[p.first], ib[p.second]);
    ++fn[pat];
    for (size_t f = 0; f < cs.fields.size(); ++f) {
      ++fn_field[cs.fields[f].name + " " + pat[f]];
      if (cs.fields[f].role == MatchRole::kName && (pat[f] == 'D' || pat[f] == 's')) {
        const auto& x = fa[ia[p.first]].fields[f].skeleton;
        const auto& y = fb[ib[p.second]].fields[f].skeleton;
        ++fn_names[cs.fields[f].name + " edit " + std::to_string(edit(x, y)) + " len " +
                   std::to_string(std::min(x.size(), y.size())) + "/" +
                   std::to_string(std::max(x.size(), y.size()))];
      }
    }
  }
  report("false negatives per field", fn_field, nfn);
  report("false negatives: names that differ, skeleton edit distance", fn_names, nfn);
  for (const auto& p : predicted) {
    if (truth.count(p)) continue;
    ++nfp;
    auto it = relation.find(p);
    std::string rel = it == relation.end() ? "other" : it->second;
    if (rel == "other") {
      bool a_in_truth = false;
      for (auto t = truth.lower_bound({p.first, ""}); t != truth.end() && t->first == p.first; ++t) {
        a_in_truth = true;
      }
      rel = a_in_truth ? "other(report has a true pair)" : "other(report unmatched)";
    }
    ++fp_rel[rel];
    ++fp[rel + " " + pattern(ia[p.first], ib[p.second])];
  }
  report("false negatives", fn, nfn);
  report("false positives by relation", fp_rel, nfp);
  report("false positives", fp, nfp);
}

}  // namespace

int main(int argc, char** argv) {
  // Options after the files: --jisr PATH (default $JISR_BIN or ./node/app/jisr; the two-node
  // part is skipped when there is none), --in-process (skip the two-node part), --nodes-only
  // (skip the in-process part).
  std::string jisr_bin = std::getenv("JISR_BIN") ? std::getenv("JISR_BIN") : "./node/app/jisr";
  const std::filesystem::path source_dir = std::filesystem::path(JISR_BENCH_SOURCE_DIR);
  bool nodes_only = false;
  {
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--jisr" && i + 1 < argc) {
        jisr_bin = argv[++i];
      } else if (arg == "--in-process") {
        jisr_bin.clear();
      } else if (arg == "--nodes-only") {
        nodes_only = true;
      } else {
        argv[kept++] = argv[i];
      }
    }
    argc = kept;
  }
  if (!jisr_bin.empty() && !std::filesystem::exists(jisr_bin)) {
    std::fprintf(stderr, "match_quality: no jisr binary at %s; the two-node part is skipped\n", jisr_bin.c_str());
    jisr_bin.clear();
  }
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: match_quality A.csv B.csv truth.csv [hard_negatives.csv] [--jisr PATH] [--in-process|--nodes-only]\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  Table ta, tb;
  if (!read_csv(argv[1], ta) || !read_csv(argv[2], tb)) return 1;
  PairSet truth = read_pairs(argv[3]);
  PairSet hard = argc > 4 ? read_pairs(argv[4]) : PairSet{};
  std::map<std::pair<std::string, std::string>, std::string> relation;
  if (argc > 4) {
    Table t;
    if (read_csv(argv[4], t)) {
      for (const auto& r : t.rows) {
        if (r.size() >= 3) relation[{r[0], r[1]}] = r[2];
      }
    }
  }

  std::map<std::string, std::string> sex_values;
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"\u0630\u0643\u0631", "male"}, {"\u0623\u0646\u062B\u0649", "female"}, {"M", "male"}, {"F", "female"}}) {
    sex_values[adapters::fold_value_key(k)] = v;
  }
  Dataset a = map_table(ta, "report_id",
                        {{"given_name", "given_name"},
                         {"father_name", "father_name"},
                         {"grandfather_name", "grandfather_name"},
                         {"family_name", "family_name"},
                         {"mother_name", "mother_name"},
                         {"sex", "sex"},
                         {"birth_date", "birth_date"},
                         {"age_at_disappearance", "age_at_disappearance"},
                         {"birth_place", "birth_place"},
                         {"missing_date", "missing_date"},
                         {"missing_place", "missing_place"},
                         {"national_id", "national_id"}},
                        sex_values);
  Dataset b = map_table(tb, "case_id",
                        {{"given_name", "first_name"},
                         {"father_name", "father_name"},
                         {"family_name", "last_name"},
                         {"mother_name", "mother_full_name"},
                         {"sex", "gender"},
                         {"birth_date", "dob"},
                         {"birth_place", "place_of_birth"},
                         {"missing_date", "date_missing"},
                         {"missing_place", "location_missing"},
                         {"national_id", "id_number"}},
                        sex_values);
  std::printf("records: A %zu, B %zu; truth pairs %zu; hard-negative pairs %zu\n",
              a.records.size(), b.records.size(), truth.size(), hard.size());

  // ---- the real path: two nodes, TLS, the protocol ----
  if (!jisr_bin.empty()) {
    std::printf("through two nodes (%s; linkage agreements of deploy/demo/linkage):\n", jisr_bin.c_str());
    std::unordered_map<std::string, uint32_t> ia, ib;
    for (uint32_t i = 0; i < a.ids.size(); ++i) ia[a.ids[i]] = i;
    for (uint32_t j = 0; j < b.ids.size(); ++j) ib[b.ids[j]] = j;
    // JISR_MATCH_QUALITY_SKIP_PSI leaves psi out here too (a psi job takes over a minute).
    const std::vector<std::string> methods = std::getenv("JISR_MATCH_QUALITY_SKIP_PSI") ? std::vector<std::string>{"bloom"}
                                                                                      : std::vector<std::string>{"psi", "bloom"};
    const auto runs = jisr::bench::match_via_nodes(jisr_bin, source_dir, argv[1], argv[2], methods);
    for (const auto& run : runs) {
      if (!run.ok) {
        std::printf("  %-6s FAILED: %s\n", run.method.c_str(), run.error.c_str());
        continue;
      }
      std::vector<Scored> scored;
      PairSet stored;
      for (const auto& c : run.candidates) {
        if (!ia.count(c.a_id) || !ib.count(c.b_id)) continue;
        scored.push_back({ia[c.a_id], ib[c.b_id], c.score});
        stored.emplace(c.a_id, c.b_id);
      }
      char extra[128];
      std::snprintf(extra, sizeof extra, "  [%.1f s end to end, %llu records queried, %llu pairs set aside]",
                    run.seconds, static_cast<unsigned long long>(run.query_records),
                    static_cast<unsigned long long>(run.set_aside));
      const std::string label = run.method + " (nodes, all)";
      print_quality(label.c_str(), evaluate(stored, truth, hard), extra);
      const std::string best_label = run.method + " (nodes, best)";
      if (run.method == "bloom") {
        Sweep best = sweep(scored, truth, hard, a, b);
        std::snprintf(extra, sizeof extra, "  [best threshold %.2f]", best.threshold);
        print_quality(best_label.c_str(), best.quality, extra);
      } else {
        print_quality(best_label.c_str(), evaluate(to_pairs(best_per_querier(scored, 0.0), 0.0, a, b), truth, hard),
                      "  [best candidate per querier record]");
      }
    }
  }
  if (nodes_only) return 0;
  std::printf("\nin one process (node/match API), with baselines without privacy:\n");


  MatchSpec spec;
  spec.agreement_id = "mpfp-iimp-2026";
  spec.fields = {"given_name",   "father_name", "grandfather_name", "family_name",
                 "mother_name",  "sex",         "birth_date",       "birth_place",
                 "missing_date", "missing_place", "national_id"};
  spec.ages = {AgeRule{"age_at_disappearance", "missing_date", "birth_date", 1}};
  auto compiled = compile_match_spec(spec, RecordSchema::missing_person());
  if (!compiled) {
    std::fprintf(stderr, "match_quality: %s\n", compiled.error().message().c_str());
    return 1;
  }
  const CompiledMatchSpec& cs = compiled.value();
  std::printf("key kinds: %zu\n", cs.keys.size());

  auto t0 = SteadyClock::now();
  std::vector<RecordFeatures> fa, fb;
  for (const auto& r : a.records) fa.push_back(extract_features(cs, r));
  for (const auto& r : b.records) fb.push_back(extract_features(cs, r));
  // Each side learns its places' regions and its names' likely misspellings from its own
  // records, as a node does for bloom.
  for (auto* side : {&fa, &fb}) {
    OwnVocabulary vocabulary(cs);
    for (const auto& f : *side) vocabulary.learn(f);
    vocabulary.finish();
    if (std::getenv("JISR_MATCH_QUALITY_ANALYSE")) {
      std::fprintf(stderr, "misspellings learned: %zu\n", vocabulary.spellings().size());
    }
    for (auto& f : *side) vocabulary.extend(f);
    if (std::getenv("JISR_MATCH_QUALITY_ANALYSE")) {
      size_t n = 0;
      for (const auto& f : *side) for (const auto& x : f.fields) n += !x.corrected.empty();
      std::fprintf(stderr, "names taken for misspellings: %zu\n", n);
    }
  }
  std::printf("normalised both sides in %.2f s\n", seconds_since(t0));

  // ---- exact keys in clear (baseline) and PSI ----
  struct Element {
    uint32_t record;
    uint32_t kind;
  };
  std::vector<MatchKey> qkeys, rkeys;
  std::vector<Element> qel, rel;
  for (uint32_t i = 0; i < fa.size(); ++i) {
    for (auto& k : match_keys(cs, fa[i], KeySide::kQuerier)) {
      qel.push_back({i, k.kind});
      qkeys.push_back(std::move(k));
    }
  }
  for (uint32_t j = 0; j < fb.size(); ++j) {
    for (auto& k : match_keys(cs, fb[j], KeySide::kResponder)) {
      rel.push_back({j, k.kind});
      rkeys.push_back(std::move(k));
    }
  }
  std::printf("keys: querier %zu, responder %zu\n", qkeys.size(), rkeys.size());

  using PairKinds = std::map<std::pair<uint32_t, uint32_t>, std::vector<uint32_t>>;
  // (querier record, responder record) -> the key kinds that met.
  auto kinds_of = [&](const std::vector<std::pair<size_t, size_t>>& hits) {
    PairKinds kinds;
    for (auto [i, j] : hits) kinds[{qel[i].record, rel[j].record}].push_back(qel[i].kind);
    return kinds;
  };
  auto decide_pairs = [&](const PairKinds& kinds) {
    std::vector<Scored> scored;
    for (auto& [pair, ks] : kinds) {
      // Every pair is kept with its evidence so thresholds can be swept; the decision at the
      // agreement's threshold is PsiDecision::candidate.
      scored.push_back({pair.first, pair.second, psi_decide(cs, ks).weight});
    }
    return scored;
  };

  {
    std::unordered_multimap<std::string, size_t> index;
    for (size_t j = 0; j < rkeys.size(); ++j) index.emplace(rkeys[j].bytes, j);
    std::vector<std::pair<size_t, size_t>> hits;
    for (size_t i = 0; i < qkeys.size(); ++i) {
      auto [lo, hi] = index.equal_range(qkeys[i].bytes);
      for (auto it = lo; it != hi; ++it) hits.emplace_back(i, it->second);
    }
    auto kinds = kinds_of(hits);
    auto scored = decide_pairs(kinds);
    print_quality("baseline exact keys",
                  evaluate(to_pairs(scored, cs.psi_threshold, a, b), truth, hard));
    print_quality("  best per report",
                  evaluate(to_pairs(best_per_querier(scored, 0.0), cs.psi_threshold, a, b), truth,
                           hard));
    {
      // Where the agreement's threshold should sit for these data (evidence in bits).
      double best_th = 0.0;
      Quality best_q;
      for (double th = 4.0; th <= 16.0; th += 0.5) {
        Quality q = evaluate(to_pairs(best_per_querier(scored, 0.0), th, a, b), truth, hard);
        if (q.f1 > best_q.f1) best_q = q, best_th = th;
      }
      char extra[64];
      std::snprintf(extra, sizeof extra, "  [best threshold %.1f]", best_th);
      print_quality("  best threshold", best_q, extra);
    }
    analyse("exact", cs, to_pairs(best_per_querier(scored, 0.0), cs.psi_threshold, a, b), truth,
            a, b, fa, fb, relation);
    if (std::getenv("JISR_MATCH_QUALITY_ANALYSE") != nullptr) {
      // Which evidence (field names only) the false positives and negatives carried.
      std::map<std::string, int> fp_ev, fn_ev;
      PairSet pred = to_pairs(best_per_querier(scored, 0.0), cs.psi_threshold, a, b);
      for (const auto& s : best_per_querier(scored, 0.0)) {
        std::pair<std::string, std::string> p{a.ids[s.a], b.ids[s.b]};
        auto d = psi_decide(cs, kinds[{s.a, s.b}]);
        if (pred.count(p) && !truth.count(p)) ++fp_ev[d.evidence];
        if (!pred.count(p) && truth.count(p)) ++fn_ev[d.evidence];
      }
      for (auto* m : {&fp_ev, &fn_ev}) {
        std::vector<std::pair<int, std::string>> v;
        for (const auto& [k, n] : *m) v.emplace_back(n, k);
        std::sort(v.rbegin(), v.rend());
        std::fprintf(stderr, "exact %s evidence:\n", m == &fp_ev ? "false positive" : "false negative (scored)");
        for (size_t k = 0; k < v.size() && k < 15; ++k) std::fprintf(stderr, "  %5d  %s\n", v[k].first, v[k].second.c_str());
      }
    }
    explain("exact", to_pairs(best_per_querier(scored, 0.0), cs.psi_threshold, a, b), truth, a, b,
            [&](uint32_t i, uint32_t j) {
              auto it = kinds.find({i, j});
              std::string ks;
              if (it != kinds.end()) ks = psi_decide(cs, it->second).evidence;
              return ks + " || " + describe(cs, score_features(cs, fa[i], fb[j]));
            });
  }

  if (std::getenv("JISR_MATCH_QUALITY_SKIP_PSI") == nullptr) {
    auto t1 = SteadyClock::now();
    PsiSecret q = PsiSecret::generate();
    PsiSecret r = PsiSecret::generate();
    auto q_blinded = blind_keys(q, qkeys);                       // querier -> responder
    auto r_blinded = blind_keys(r, rkeys);                       // responder -> querier
    if (!q_blinded || !r_blinded) return 1;
    auto q_double = reblind_all(r, q_blinded.value());           // responder -> querier
    auto r_double = reblind_all(q, r_blinded.value());           // querier, locally
    if (!q_double || !r_double) return 1;
    auto psi_hits = intersect(q_double.value(), r_double.value());
    double secs = seconds_since(t1);
    std::vector<std::pair<size_t, size_t>> hits;
    for (const auto& h : psi_hits) hits.emplace_back(h.mine, h.theirs);
    auto scored = decide_pairs(kinds_of(hits));
    print_quality("psi without claims",
                  evaluate(to_pairs(best_per_querier(scored, 0.0), cs.psi_threshold, a, b), truth, hard));
    scored = resolve(scored, cs.psi_threshold, cs, fa);  // what the querying node keeps
    size_t ops = 2 * qkeys.size() + 2 * rkeys.size();
    char extra[128];
    std::snprintf(extra, sizeof extra, "  [%.1f s, %.0f group ops/s]", secs, double(ops) / secs);
    print_quality("psi", evaluate(to_pairs(scored, cs.psi_threshold, a, b), truth, hard), extra);
    print_quality("psi best per report",
                  evaluate(to_pairs(best_per_querier(scored, 0.0), cs.psi_threshold, a, b), truth,
                           hard));
    for (double th : {8.0, 9.0, 10.0, 11.0, 12.0}) {
      char label[64];
      std::snprintf(label, sizeof label, "  psi at %.1f", th);
      print_quality(label, evaluate(to_pairs(best_per_querier(scored, 0.0), th, a, b), truth, hard));
    }
  }

  // ---- Bloom ----
  {
    auto t1 = SteadyClock::now();
    std::array<uint8_t, 32> pk_a{}, pk_b{};
    std::array<uint8_t, 64> sk_a{}, sk_b{};
    if (const char* seed = std::getenv("JISR_MATCH_QUALITY_SEED")) {
      // Fixed node keys: the same filters run after run, to compare scoring changes without
      // the noise of chance bit collisions under a new secret.
      std::array<uint8_t, 32> s1{}, s2{};
      s1[0] = static_cast<uint8_t>(std::atoi(seed));
      s2[0] = static_cast<uint8_t>(std::atoi(seed));
      s2[1] = 1;
      crypto_sign_seed_keypair(pk_a.data(), sk_a.data(), s1.data());
      crypto_sign_seed_keypair(pk_b.data(), sk_b.data(), s2.data());
    } else {
      crypto_sign_keypair(pk_a.data(), sk_a.data());
      crypto_sign_keypair(pk_b.data(), sk_b.data());
    }
    auto secret_a = derive_bloom_secret(sk_a, pk_b, cs.agreement_id);
    auto secret_b = derive_bloom_secret(sk_b, pk_a, cs.agreement_id);
    if (!secret_a || !secret_b || secret_a.value().bytes() != secret_b.value().bytes()) {
      std::fprintf(stderr, "match_quality: the two nodes derived different bloom secrets\n");
      return 1;
    }
    BloomEncoder enc_a(cs, secret_a.value());
    BloomEncoder enc_b(cs, secret_b.value());
    BloomMatrix ma = enc_a.make_matrix(), mb = enc_b.make_matrix();
    for (const auto& f : fa) enc_a.encode(f, ma);
    for (const auto& f : fb) enc_b.encode(f, mb);
    const auto block_key = secret_a.value().block_key();
    std::vector<std::vector<uint64_t>> ba, bb;
    for (const auto& f : fa) ba.push_back(blocking_keys(cs, f, block_key));
    for (const auto& f : fb) bb.push_back(blocking_keys(cs, f, block_key));
    auto pairs = candidate_pairs(ba, bb);
    // The responder (B) weighs agreements by the rarity of its own names and places, as a node does.
    ValueRarity rarity(cs);
    for (const auto& f : fb) rarity.add(f);
    rarity.finish();
    std::vector<Scored> scored, plain;
    for (auto [i, j] : pairs) {
      scored.push_back({i, j, score_bloom(cs, ma, i, mb, j, rarity.row(j)).value});
    }
    double secs = seconds_since(t1);
    // JISR_MATCH_QUALITY_DUMP=FILE writes every compared pair's per-field comparison from the
    // filters (similarity, day agreement) with B's value rarity and the pair's label, for
    // studying scoring rules offline. Synthetic data only: it holds no values, but it is a
    // per-pair trace.
    if (const char* dump = std::getenv("JISR_MATCH_QUALITY_DUMP")) {
      std::unordered_map<std::string, uint32_t> ia, ib;
      FILE* out = std::fopen(dump, "w");
      if (out != nullptr) {
        std::fprintf(out, "# a,b,label,score,swapped");
        for (const auto& f : cs.fields) std::fprintf(out, ",%s:sim,%s:day,%s:rar", f.name.c_str(), f.name.c_str(), f.name.c_str());
        std::fprintf(out, "\n");
        for (auto [i, j] : pairs) {
          const Score s = score_bloom(cs, ma, i, mb, j, rarity.row(j));
          std::pair<std::string, std::string> p{a.ids[i], b.ids[j]};
          const char* label = truth.count(p) ? "T" : (hard.count(p) ? "H" : "N");
          std::fprintf(out, "%u,%u,%s,%.5f,%d", i, j, label, s.value, s.swapped ? 1 : 0);
          std::vector<const FieldComparison*> by_field(cs.fields.size(), nullptr);
          for (const auto& c : s.fields) by_field[c.field] = &c;
          auto row = rarity.row(j);
          for (size_t f = 0; f < cs.fields.size(); ++f) {
            if (by_field[f] == nullptr) {
              std::fprintf(out, ",,,");
            } else {
              std::fprintf(out, ",%.4f,%d,%.3f", by_field[f]->similarity, by_field[f]->day,
                           row.empty() ? 0.0 : row[f]);
            }
          }
          std::fprintf(out, "\n");
        }
        std::fclose(out);
      }
    }
    for (auto [i, j] : pairs) plain.push_back({i, j, score_features(cs, fa[i], fb[j], rarity.row(j)).value});

    size_t blocked_truth = 0;
    {
      std::unordered_map<std::string, uint32_t> ia, ib;
      for (uint32_t i = 0; i < a.ids.size(); ++i) ia[a.ids[i]] = i;
      for (uint32_t j = 0; j < b.ids.size(); ++j) ib[b.ids[j]] = j;
      std::set<std::pair<uint32_t, uint32_t>> ps(pairs.begin(), pairs.end());
      for (const auto& [x, y] : truth) {
        if (ia.count(x) && ib.count(y) && ps.count({ia[x], ib[y]})) ++blocked_truth;
      }
    }
    std::printf("bloom blocking: %zu candidate pairs of %zu (%.4f%%), pair completeness %.4f\n",
                pairs.size(), a.records.size() * b.records.size(),
                100.0 * double(pairs.size()) / double(a.records.size() * b.records.size()),
                truth.empty() ? 0.0 : double(blocked_truth) / double(truth.size()));

    Sweep fuzzy = sweep(plain, truth, hard, a, b);
    char extra[96];
    std::snprintf(extra, sizeof extra, "  [best threshold %.2f]", fuzzy.threshold);
    print_quality("baseline fuzzy fields", fuzzy.quality, extra);
    {
      const PairSet fuzzy_pairs = to_pairs(best_per_querier(plain, 0.0), fuzzy.threshold, a, b);
      analyse("fuzzy", cs, fuzzy_pairs, truth, a, b, fa, fb, relation);
      explain("fuzzy", fuzzy_pairs, truth, a, b, [&](uint32_t i, uint32_t j) {
        const Score s = score_features(cs, fa[i], fb[j], rarity.row(j));
        return std::to_string(s.value) + " " + describe(cs, s);
      });
    }

    const std::vector<Scored> unresolved = scored;
    {
      Sweep before = sweep(unresolved, truth, hard, a, b);
      std::snprintf(extra, sizeof extra, "  [best threshold %.2f]", before.threshold);
      print_quality("bloom without claims", before.quality, extra);
    }
    scored = resolve(scored, cs.bloom_threshold, cs, fa);  // what the querying node keeps
    Sweep best = sweep(scored, truth, hard, a, b);
    std::snprintf(extra, sizeof extra, "  [best threshold %.2f; %.1f s]", best.threshold, secs);
    print_quality("bloom", best.quality, extra);
    false_negative_causes(unresolved, scored, best.threshold, truth, a, b);
    analyse("bloom", cs, to_pairs(best_per_querier(scored, 0.0), best.threshold, a, b), truth, a,
            b, fa, fb, relation);
    explain("bloom", to_pairs(best_per_querier(scored, 0.0), best.threshold, a, b), truth, a, b,
            [&](uint32_t i, uint32_t j) {
              return std::to_string(score_bloom(cs, ma, i, mb, j, rarity.row(j)).value) + " " +
                     describe(cs, score_features(cs, fa[i], fb[j]));
            });
    Quality at_spec = evaluate(to_pairs(best_per_querier(scored, 0.0), cs.bloom_threshold, a, b),
                               truth, hard);
    std::snprintf(extra, sizeof extra, "  [agreement threshold %.2f]", cs.bloom_threshold);
    print_quality("bloom", at_spec, extra);
  }

  return 0;
}
