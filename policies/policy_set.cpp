#include "policies/policy_set.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "node/core/yaml_source.hpp"
#include "policies/compiler.hpp"

namespace jisr::policies {

Result<void> PolicySet::add(std::shared_ptr<const CompiledAgreement> agreement, std::string source) {
  const OrgId peer = agreement->peer();
  auto it = by_peer_.find(peer);
  if (it != by_peer_.end()) {
    return make_error(Errc::kConflict,
                      fmt::format("two agreements for peer {}: {} ({}) and {} ({})", peer.str(),
                                  it->second.agreement->id().str(), it->second.source,
                                  agreement->id().str(), source),
                      source);
  }
  by_peer_.emplace(peer, Entry{std::move(agreement), std::move(source)});
  return ok();
}

std::shared_ptr<const CompiledAgreement> PolicySet::for_peer(const OrgId& peer) const {
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? nullptr : it->second.agreement;
}

std::string PolicySet::source_of(const OrgId& peer) const {
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? std::string() : it->second.source;
}

Result<PolicySet> load_policy_dir(const std::filesystem::path& dir, const RecordSchema& schema) {
  PolicySet set;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return set;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  if (ec) return make_error(Errc::kIo, "cannot list policies: " + ec.message(), dir.string());
  std::sort(files.begin(), files.end());
  std::string errors;
  const auto note = [&errors](const std::string& line) {
    errors += (errors.empty() ? "" : "\n") + line;
  };
  for (const auto& file : files) {
    auto src = YamlSource::from_file(file);
    auto compiled = compile_agreement(src, schema);
    if (!compiled) {
      note(compiled.error().message());
      continue;
    }
    auto added = set.add(std::make_shared<const CompiledAgreement>(std::move(compiled).value()),
                         file.string());
    if (!added) note(added.error().message());
  }
  if (!errors.empty()) return make_error(Errc::kInvalidInput, errors);
  return set;
}

Result<std::shared_ptr<const PolicySet>> PolicyHolder::reload(const std::filesystem::path& dir,
                                                              const RecordSchema& schema) {
  JISR_TRY(auto set, load_policy_dir(dir, schema));
  auto next = std::make_shared<const PolicySet>(std::move(set));
  replace(next);
  return next;
}

}  // namespace jisr::policies
