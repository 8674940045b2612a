// Match jobs larger than one frame: the querier's request split into upload parts and the
// responder's answer into pages, each sized by an estimate of its encoded frame, and both put
// back together in order with every slice checked against the job it claims to belong to.
// A PSI job over ten thousand records is ~30 MB each way, twice the default frame limit; no
// frame limit is raised for it, and each part and page is an ordinary request/answer with its
// own deadline.
// Thread-safety: pure functions on values.
#pragma once

#include <cstddef>
#include <vector>

#include "node/core/result.hpp"
#include "protocol/messages.hpp"

namespace jisr::exchange {

// Encoded bytes of a request's or answer's lists (Cap'n Proto: one pointer word per element,
// each blob rounded up to whole words). An estimate for sizing parts, not a limit check.
size_t estimated_bytes(const protocol::MatchRequest& r);
size_t estimated_bytes(const protocol::MatchResponse& r);

// Upload parts of at most ~budget bytes of lists each (at least one part; a single element
// larger than the budget gets a part of its own). Every part repeats the job's scalar fields and
// carries part/parts; blooms and their blocking keys stay together.
std::vector<protocol::MatchRequest> split_request(const protocol::MatchRequest& whole,
                                                  size_t budget);

// Appends upload part `next` to `whole` (which holds parts 0..part-1). Refuses a part of another
// job, out of order, or with scalar fields that differ from the first part's.
Result<void> append_part(protocol::MatchRequest& whole, protocol::MatchRequest&& next);

// Answer pages of at most ~budget bytes of lists each (at least one); each carries page/pages and
// repeats count and quota_left. responder_points and handles stay aligned.
std::vector<protocol::MatchResponse> split_response(protocol::MatchResponse&& whole, size_t budget);

// Appends answer page `next` to `whole` (pages 0..next.page-1 already in). Refuses a page of
// another job, out of order, or claiming another page count.
Result<void> append_page(protocol::MatchResponse& whole, protocol::MatchResponse&& next);

}  // namespace jisr::exchange
