#include "node/exchange/match_paging.hpp"

#include <fmt/format.h>

#include <utility>

namespace jisr::exchange {
namespace {

constexpr size_t kWord = 8;

size_t blob(size_t bytes) { return kWord + (bytes + kWord - 1) / kWord * kWord; }
size_t blob(const std::string& s) { return blob(s.size()); }
size_t candidate_bytes(const protocol::MatchCandidate& c) {
  return 3 * kWord + blob(c.handle) + blob(c.evidence.size() + 1);
}

protocol::MatchRequest request_shell(const protocol::MatchRequest& whole) {
  protocol::MatchRequest p;
  p.method = whole.method;
  p.job_id = whole.job_id;
  p.agreement = whole.agreement;
  p.key_kind = whole.key_kind;
  p.count = whole.count;
  p.threshold = whole.threshold;
  return p;
}

protocol::MatchResponse response_shell(const protocol::MatchResponse& whole) {
  protocol::MatchResponse p;
  p.method = whole.method;
  p.job_id = whole.job_id;
  p.count = whole.count;
  p.quota_left = whole.quota_left;
  return p;
}

template <class T>
void append_moved(std::vector<T>& to, std::vector<T>&& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

// Fills slices (parts or pages) up to ~budget bytes each: the slice to put the next `bytes`
// into, a fresh one when they would pass the budget (never for a slice's first element).
template <class Msg>
class Slicer {
 public:
  Slicer(Msg shell, size_t budget)
      : shell_(std::move(shell)), budget_(budget), slices_(1, shell_) {}
  Msg& room_for(size_t bytes) {
    if (used_ > 0 && used_ + bytes > budget_) {
      slices_.push_back(shell_);
      used_ = 0;
    }
    used_ += bytes;
    return slices_.back();
  }
  // The slices, each numbered: `index` its position, `count` how many there are.
  std::vector<Msg> take(uint32_t Msg::*index, uint32_t Msg::*count) {
    for (size_t i = 0; i < slices_.size(); ++i) {
      slices_[i].*index = static_cast<uint32_t>(i);
      slices_[i].*count = static_cast<uint32_t>(slices_.size());
    }
    return std::move(slices_);
  }

 private:
  Msg shell_;
  size_t budget_;
  size_t used_ = 0;
  std::vector<Msg> slices_;
};

}  // namespace

size_t estimated_bytes(const protocol::MatchRequest& r) {
  size_t n = 0;
  for (const auto& p : r.points) n += blob(p);
  for (const auto& b : r.blooms) n += blob(b);
  for (const auto& k : r.block_keys) n += blob(k);
  return n;
}

size_t estimated_bytes(const protocol::MatchResponse& r) {
  size_t n = 0;
  for (const auto& p : r.points) n += blob(p);
  for (const auto& p : r.responder_points) n += blob(p);
  for (const auto& h : r.handles) n += blob(h);
  for (const auto& c : r.candidates) n += candidate_bytes(c);
  return n;
}

std::vector<protocol::MatchRequest> split_request(const protocol::MatchRequest& whole,
                                                  size_t budget) {
  Slicer<protocol::MatchRequest> slicer(request_shell(whole), budget);
  for (const auto& p : whole.points) slicer.room_for(blob(p)).points.push_back(p);
  for (size_t i = 0; i < whole.blooms.size(); ++i) {
    const bool keyed = i < whole.block_keys.size();
    auto& part = slicer.room_for(blob(whole.blooms[i]) + (keyed ? blob(whole.block_keys[i]) : 0));
    part.blooms.push_back(whole.blooms[i]);
    if (keyed) part.block_keys.push_back(whole.block_keys[i]);
  }
  return slicer.take(&protocol::MatchRequest::part, &protocol::MatchRequest::parts);
}

Result<void> append_part(protocol::MatchRequest& whole, protocol::MatchRequest&& next) {
  const uint32_t parts = std::max<uint32_t>(whole.parts, 1);
  if (next.job_id != whole.job_id || next.method != whole.method ||
      next.agreement != whole.agreement || next.key_kind != whole.key_kind ||
      next.count != whole.count || next.threshold != whole.threshold ||
      std::max<uint32_t>(next.parts, 1) != parts) {
    return make_error(Errc::kInvalidInput,
                      "a match query part does not belong to the job it names");
  }
  if (next.part != whole.part + 1 || next.part >= parts) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("match query part {} arrived after part {} of {}", next.part,
                                  whole.part, parts));
  }
  if (next.page != 0) return make_error(Errc::kInvalidInput, "a match query part asks for a page");
  append_moved(whole.points, std::move(next.points));
  append_moved(whole.blooms, std::move(next.blooms));
  append_moved(whole.block_keys, std::move(next.block_keys));
  whole.part = next.part;
  return ok();
}

std::vector<protocol::MatchResponse> split_response(protocol::MatchResponse&& whole,
                                                    size_t budget) {
  Slicer<protocol::MatchResponse> slicer(response_shell(whole), budget);
  for (auto& p : whole.points) slicer.room_for(blob(p)).points.push_back(std::move(p));
  for (size_t i = 0; i < whole.responder_points.size(); ++i) {
    const bool with_handle = i < whole.handles.size();
    auto& page = slicer.room_for(blob(whole.responder_points[i]) +
                                 (with_handle ? blob(whole.handles[i]) : 0));
    page.responder_points.push_back(std::move(whole.responder_points[i]));
    if (with_handle) page.handles.push_back(std::move(whole.handles[i]));
  }
  for (auto& c : whole.candidates)
    slicer.room_for(candidate_bytes(c)).candidates.push_back(std::move(c));
  return slicer.take(&protocol::MatchResponse::page, &protocol::MatchResponse::pages);
}

Result<void> append_page(protocol::MatchResponse& whole, protocol::MatchResponse&& next) {
  if (next.job_id != whole.job_id || next.method != whole.method || next.pages != whole.pages) {
    return make_error(Errc::kInvalidInput,
                      "a match answer page does not belong to the job it names");
  }
  if (next.page != whole.page + 1 || next.page >= whole.pages) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("match answer page {} arrived after page {} of {}", next.page,
                                  whole.page, whole.pages));
  }
  append_moved(whole.points, std::move(next.points));
  append_moved(whole.responder_points, std::move(next.responder_points));
  append_moved(whole.handles, std::move(next.handles));
  append_moved(whole.candidates, std::move(next.candidates));
  whole.page = next.page;
  return ok();
}

}  // namespace jisr::exchange
