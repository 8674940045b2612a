#include "protocol/codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/io.h>
#include <fmt/format.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "node/core/record.hpp"
#include "protocol/jisr.capnp.h"

namespace jisr::protocol {
namespace {

constexpr std::string_view kWhere = "frame";

Error malformed(std::string what) { return make_error(Errc::kInvalidInput, std::move(what), std::string(kWhere)); }

// ---- encoding ----

capnp::Text::Reader text(const std::string& s) { return capnp::Text::Reader(s.c_str(), s.size()); }
capnp::Data::Reader data(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

template <class ListBuilder>
void fill_data(ListBuilder list, const std::vector<std::string>& items) {
  for (unsigned i = 0; i < items.size(); ++i) list.set(i, data(items[i]));
}

void put_records(capnp::List<wire::Record>::Builder list, const std::vector<WireRecord>& records) {
  for (unsigned i = 0; i < records.size(); ++i) {
    auto r = list[i];
    r.setRecordId(text(records[i].id.str()));
    r.setVersion(records[i].version);
    r.setEncodedFields(data(records[i].fields));
  }
}

wire::MatchMethod to_wire(MatchMethod m) {
  return m == MatchMethod::kBloom ? wire::MatchMethod::BLOOM : wire::MatchMethod::PSI;
}

struct Encoder {
  wire::Envelope::Body::Builder body;

  void operator()(const Hello& m) {
    auto h = body.initHello();
    h.setOrg(text(m.org.str()));
    h.setMinVersion(m.min_version);
    h.setMaxVersion(m.max_version);
    auto caps = h.initCapabilities(static_cast<unsigned>(m.capabilities.size()));
    for (unsigned i = 0; i < m.capabilities.size(); ++i) caps.set(i, text(m.capabilities[i]));
  }
  void operator()(const Ping& m) { body.initPing().setNonce(m.nonce); }
  void operator()(const Pong& m) { body.initPong().setNonce(m.nonce); }
  void operator()(const ErrorMessage& m) {
    auto e = body.initError();
    e.setCode(static_cast<wire::ErrorCode>(m.code));
    e.setText(text(m.text));
    e.setAnswers(m.answers);
  }
  void operator()(const RecordBatch& m) {
    auto b = body.initRecordBatch();
    b.setBatchId(text(m.batch_id));
    b.setAgreementId(text(m.agreement.str()));
    b.setPolicyVersion(data(m.policy_version));
    b.setPurpose(text(m.purpose));
    b.setFirstSeq(m.first_seq);
    b.setLastSeq(m.last_seq);
    put_records(b.initRecords(static_cast<unsigned>(m.records.size())), m.records);
  }
  void operator()(const BatchReceipt& m) {
    auto r = body.initBatchReceipt();
    r.setBatchHash(data(m.batch_hash));
    r.setFirstSeq(m.first_seq);
    r.setLastSeq(m.last_seq);
    r.setReceiverTimeMs(m.receiver_time_ms);
    r.setReceiverOrg(text(m.receiver.str()));
    r.setSignature(data(m.signature));
    r.setBatchId(text(m.batch_id));
    r.setAccepted(m.accepted);
    r.setRejected(m.rejected);
  }
  void operator()(const Withdrawal& m) {
    auto w = body.initWithdrawal();
    w.setWithdrawalId(text(m.withdrawal_id));
    w.setAgreementId(text(m.agreement.str()));
    auto list = w.initRecords(static_cast<unsigned>(m.records.size()));
    for (unsigned i = 0; i < m.records.size(); ++i) {
      list[i].setRecordId(text(m.records[i].id.str()));
      list[i].setVersion(m.records[i].version);
      list[i].setReason(static_cast<wire::WithdrawalReason>(m.records[i].reason));
    }
  }
  void operator()(const WithdrawalReceipt& m) {
    auto r = body.initWithdrawalReceipt();
    r.setWithdrawalId(text(m.withdrawal_id));
    r.setWithdrawalHash(data(m.withdrawal_hash));
    r.setReceiverTimeMs(m.receiver_time_ms);
    r.setReceiverOrg(text(m.receiver.str()));
    r.setSignature(data(m.signature));
    r.setDeleted(m.deleted);
  }
  void operator()(const MatchRequest& m) {
    auto r = body.initMatchRequest();
    r.setMethod(to_wire(m.method));
    r.setJobId(text(m.job_id));
    r.setAgreementId(text(m.agreement.str()));
    r.setKeyKind(text(m.key_kind));
    fill_data(r.initPoints(static_cast<unsigned>(m.points.size())), m.points);
    fill_data(r.initBlooms(static_cast<unsigned>(m.blooms.size())), m.blooms);
    r.setCount(m.count);
    r.setThreshold(m.threshold);
    fill_data(r.initBlockKeys(static_cast<unsigned>(m.block_keys.size())), m.block_keys);
    r.setPart(m.part);
    r.setParts(m.parts);
    r.setPage(m.page);
  }
  void operator()(const MatchResponse& m) {
    auto r = body.initMatchResponse();
    r.setMethod(to_wire(m.method));
    r.setJobId(text(m.job_id));
    fill_data(r.initPoints(static_cast<unsigned>(m.points.size())), m.points);
    fill_data(r.initResponderPoints(static_cast<unsigned>(m.responder_points.size())),
              m.responder_points);
    fill_data(r.initHandles(static_cast<unsigned>(m.handles.size())), m.handles);
    auto c = r.initCandidates(static_cast<unsigned>(m.candidates.size()));
    for (unsigned i = 0; i < m.candidates.size(); ++i) {
      c[i].setQueryIndex(m.candidates[i].query_index);
      c[i].setHandle(data(m.candidates[i].handle));
      c[i].setScore(m.candidates[i].score);
      c[i].setEvidence(text(m.candidates[i].evidence));
    }
    r.setCount(m.count);
    r.setQuotaLeft(m.quota_left);
    r.setPage(m.page);
    r.setPages(m.pages);
  }
  void operator()(const RevealRequest& m) {
    auto r = body.initRevealRequest();
    r.setJobId(text(m.job_id));
    r.setAgreementId(text(m.agreement.str()));
    fill_data(r.initHandles(static_cast<unsigned>(m.handles.size())), m.handles);
  }
  void operator()(const RevealResponse& m) {
    auto r = body.initRevealResponse();
    r.setJobId(text(m.job_id));
    put_records(r.initRecords(static_cast<unsigned>(m.records.size())), m.records);
    r.setRefused(m.refused);
  }
  void operator()(const Checkpoint& m) {
    auto c = body.initCheckpoint();
    c.setSeq(m.seq);
    c.setHash(data(m.hash));
    c.setTimeMs(m.time_ms);
    c.setSignature(data(m.signature));
    c.setOrg(text(m.org.str()));
  }
};

// ---- decoding ----

// Copies capnp fields into domain values while enforcing the per-field limits. The first
// failure is kept; later reads are skipped cheaply by the callers checking ok().
class Decoder {
 public:
  explicit Decoder(const DecodeLimits& limits) : limits_(limits) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
  }

  std::string text(capnp::Text::Reader t, const char* field) {
    if (t.size() > limits_.max_text_bytes) {
      fail(fmt::format("{} longer than {} bytes", field, limits_.max_text_bytes));
      return {};
    }
    return std::string(t.cStr(), t.size());
  }
  std::string bytes(capnp::Data::Reader d, const char* field) {
    if (d.size() > limits_.max_text_bytes) {
      fail(fmt::format("{} longer than {} bytes", field, limits_.max_text_bytes));
      return {};
    }
    return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
  }
  bool list_size(size_t n, const char* field) {
    if (n > limits_.max_list_items) {
      fail(fmt::format("{} has more than {} items", field, limits_.max_list_items));
      return false;
    }
    return true;
  }
  template <class List>
  std::vector<std::string> bytes_list(List list, const char* field) {
    std::vector<std::string> out;
    if (!list_size(list.size(), field)) return out;
    out.reserve(list.size());
    for (auto d : list) out.push_back(bytes(d, field));
    return out;
  }
  OrgId org(capnp::Text::Reader t, const char* field) {
    auto s = text(t, field);
    if (ok() && !is_valid_org_id(s)) fail(fmt::format("{} is not a valid organisation id", field));
    return OrgId(std::move(s));
  }
  // Empty is allowed: not every message names an agreement.
  AgreementId agreement(capnp::Text::Reader t) {
    auto s = text(t, "agreementId");
    if (ok() && !s.empty() && !is_valid_agreement_id(s)) fail("agreementId is not a valid agreement id");
    return AgreementId(std::move(s));
  }
  RecordId record_id(capnp::Text::Reader t) {
    auto s = text(t, "recordId");
    if (ok() && !is_valid_record_id(s)) fail("recordId is not a valid record id");
    return RecordId(std::move(s));
  }
  std::vector<WireRecord> records(capnp::List<wire::Record>::Reader list) {
    std::vector<WireRecord> out;
    if (!list_size(list.size(), "records")) return out;
    out.reserve(list.size());
    for (auto r : list) {
      WireRecord rec;
      rec.id = record_id(r.getRecordId());
      rec.version = r.getVersion();
      const bool encoded = r.hasEncodedFields();
      if (encoded) {
        rec.fields = bytes(r.getEncodedFields(), "encodedFields");
      } else {
        // An older sender's field list, read as before: any order, the last of a repeated name
        // wins, an empty value is no field.
        auto fields = r.getFields();
        if (!list_size(fields.size(), "fields")) return out;
        std::vector<FieldMap::Entry> entries;
        entries.reserve(fields.size());
        for (auto f : fields) entries.emplace_back(text(f.getName(), "field name"), text(f.getValue(), "field value"));
        if (ok()) rec.fields = encode_fields(std::move(entries));
      }
      // Checked here so that a record's fields are always well formed past this layer (the
      // receiver reads them in place). An old-style list too: it may hold what no record can
      // (an empty name, too many fields; found by frame_fuzz).
      if (ok() && !decode_fields_view(rec.fields, fields_)) {
        fail(encoded ? "encodedFields is not a canonical record encoding" : "fields do not make a valid record");
      }
      if (!ok()) return out;
      out.push_back(std::move(rec));
    }
    return out;
  }
  MatchMethod method(wire::MatchMethod m) {
    switch (m) {
      case wire::MatchMethod::PSI: return MatchMethod::kPsi;
      case wire::MatchMethod::BLOOM: return MatchMethod::kBloom;
    }
    fail("unknown match method");
    return MatchMethod::kPsi;
  }

 private:
  const DecodeLimits& limits_;
  std::string error_;
  std::vector<FieldView> fields_;  // reused by every record's check
};

ErrorCode error_code_from_wire(wire::ErrorCode c) {
  const auto v = static_cast<uint16_t>(c);
  // A code added by a newer version reads as kUnknown rather than failing the frame.
  return v <= static_cast<uint16_t>(ErrorCode::kUnsupported) ? static_cast<ErrorCode>(v)
                                                              : ErrorCode::kUnknown;
}

Result<Body> decode_body(wire::Envelope::Body::Reader body, Decoder& d) {
  using W = wire::Envelope::Body;
  switch (body.which()) {
    case W::HELLO: {
      auto h = body.getHello();
      Hello m;
      m.org = d.org(h.getOrg(), "hello org");
      m.min_version = h.getMinVersion();
      m.max_version = h.getMaxVersion();
      auto caps = h.getCapabilities();
      if (d.list_size(caps.size(), "capabilities")) {
        for (auto c : caps) m.capabilities.push_back(d.text(c, "capability"));
      }
      if (d.ok() && m.min_version > m.max_version) d.fail("hello minVersion above maxVersion");
      return Body{std::move(m)};
    }
    case W::PING: return Body{Ping{body.getPing().getNonce()}};
    case W::PONG: return Body{Pong{body.getPong().getNonce()}};
    case W::ERROR: {
      auto e = body.getError();
      return Body{ErrorMessage{error_code_from_wire(e.getCode()), d.text(e.getText(), "error text"),
                               e.getAnswers()}};
    }
    case W::RECORD_BATCH: {
      auto b = body.getRecordBatch();
      RecordBatch m;
      m.batch_id = d.text(b.getBatchId(), "batchId");
      m.agreement = d.agreement(b.getAgreementId());
      m.policy_version = d.bytes(b.getPolicyVersion(), "policyVersion");
      m.purpose = d.text(b.getPurpose(), "purpose");
      m.first_seq = b.getFirstSeq();
      m.last_seq = b.getLastSeq();
      m.records = d.records(b.getRecords());
      return Body{std::move(m)};
    }
    case W::BATCH_RECEIPT: {
      auto r = body.getBatchReceipt();
      BatchReceipt m;
      m.batch_hash = d.bytes(r.getBatchHash(), "batchHash");
      m.first_seq = r.getFirstSeq();
      m.last_seq = r.getLastSeq();
      m.receiver_time_ms = r.getReceiverTimeMs();
      m.receiver = d.org(r.getReceiverOrg(), "receiverOrg");
      m.signature = d.bytes(r.getSignature(), "signature");
      m.batch_id = d.text(r.getBatchId(), "batchId");
      m.accepted = r.getAccepted();
      m.rejected = r.getRejected();
      return Body{std::move(m)};
    }
    case W::WITHDRAWAL: {
      auto w = body.getWithdrawal();
      Withdrawal m;
      m.withdrawal_id = d.text(w.getWithdrawalId(), "withdrawalId");
      m.agreement = d.agreement(w.getAgreementId());
      auto list = w.getRecords();
      if (d.list_size(list.size(), "records")) {
        for (auto r : list) {
          const auto reason = static_cast<uint16_t>(r.getReason());
          if (reason > static_cast<uint16_t>(WithdrawalReason::kCorrected)) d.fail("unknown withdrawal reason");
          m.records.push_back(WithdrawnRecord{d.record_id(r.getRecordId()), r.getVersion(),
                                              static_cast<WithdrawalReason>(reason)});
          if (!d.ok()) break;
        }
      }
      return Body{std::move(m)};
    }
    case W::WITHDRAWAL_RECEIPT: {
      auto r = body.getWithdrawalReceipt();
      WithdrawalReceipt m;
      m.withdrawal_id = d.text(r.getWithdrawalId(), "withdrawalId");
      m.withdrawal_hash = d.bytes(r.getWithdrawalHash(), "withdrawalHash");
      m.receiver_time_ms = r.getReceiverTimeMs();
      m.receiver = d.org(r.getReceiverOrg(), "receiverOrg");
      m.signature = d.bytes(r.getSignature(), "signature");
      m.deleted = r.getDeleted();
      return Body{std::move(m)};
    }
    case W::MATCH_REQUEST: {
      auto r = body.getMatchRequest();
      MatchRequest m;
      m.method = d.method(r.getMethod());
      m.job_id = d.text(r.getJobId(), "jobId");
      m.agreement = d.agreement(r.getAgreementId());
      m.key_kind = d.text(r.getKeyKind(), "keyKind");
      m.points = d.bytes_list(r.getPoints(), "points");
      m.blooms = d.bytes_list(r.getBlooms(), "blooms");
      m.count = r.getCount();
      m.threshold = r.getThreshold();
      m.block_keys = d.bytes_list(r.getBlockKeys(), "blockKeys");
      m.part = r.getPart();
      m.parts = r.getParts();
      m.page = r.getPage();
      return Body{std::move(m)};
    }
    case W::MATCH_RESPONSE: {
      auto r = body.getMatchResponse();
      MatchResponse m;
      m.method = d.method(r.getMethod());
      m.job_id = d.text(r.getJobId(), "jobId");
      m.points = d.bytes_list(r.getPoints(), "points");
      m.responder_points = d.bytes_list(r.getResponderPoints(), "responderPoints");
      m.handles = d.bytes_list(r.getHandles(), "handles");
      auto c = r.getCandidates();
      if (d.list_size(c.size(), "candidates")) {
        for (auto x : c) {
          m.candidates.push_back(
              MatchCandidate{x.getQueryIndex(), d.bytes(x.getHandle(), "handle"), x.getScore(),
                             d.text(x.getEvidence(), "evidence")});
        }
      }
      m.count = r.getCount();
      m.quota_left = r.getQuotaLeft();
      m.page = r.getPage();
      m.pages = r.getPages();
      return Body{std::move(m)};
    }
    case W::REVEAL_REQUEST: {
      auto r = body.getRevealRequest();
      RevealRequest m;
      m.job_id = d.text(r.getJobId(), "jobId");
      m.agreement = d.agreement(r.getAgreementId());
      m.handles = d.bytes_list(r.getHandles(), "handles");
      return Body{std::move(m)};
    }
    case W::REVEAL_RESPONSE: {
      auto r = body.getRevealResponse();
      RevealResponse m;
      m.job_id = d.text(r.getJobId(), "jobId");
      m.records = d.records(r.getRecords());
      m.refused = r.getRefused();
      return Body{std::move(m)};
    }
    case W::CHECKPOINT: {
      auto c = body.getCheckpoint();
      Checkpoint m;
      m.seq = c.getSeq();
      m.hash = d.bytes(c.getHash(), "hash");
      m.time_ms = c.getTimeMs();
      m.signature = d.bytes(c.getSignature(), "signature");
      m.org = d.org(c.getOrg(), "checkpoint org");
      return Body{std::move(m)};
    }
  }
  return malformed("unknown message kind");
}

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown: return "unknown";
    case ErrorCode::kMalformedFrame: return "malformed_frame";
    case ErrorCode::kFrameTooLarge: return "frame_too_large";
    case ErrorCode::kVersionMismatch: return "version_mismatch";
    case ErrorCode::kUnexpectedMessage: return "unexpected_message";
    case ErrorCode::kDenied: return "denied";
    case ErrorCode::kOverloaded: return "overloaded";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kUnsupported: return "unsupported";
  }
  return "unknown";
}

std::string_view message_kind_name(MessageKind kind) {
  static constexpr std::string_view kNames[] = {
      "hello",         "ping",           "pong",          "error",         "record_batch",
      "batch_receipt", "withdrawal",     "withdrawal_receipt", "match_request", "match_response",
      "reveal_request", "reveal_response", "checkpoint"};
  const auto i = static_cast<size_t>(kind);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

Result<uint32_t> parse_frame_header(const std::array<uint8_t, kFrameHeaderBytes>& h,
                                    uint32_t max_frame_bytes) {
  const uint32_t n = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3];
  if (n == 0) return make_error(Errc::kInvalidInput, "empty frame", "frame-empty");
  if (n > max_frame_bytes) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("frame of {} bytes exceeds the limit of {}", n, max_frame_bytes),
                      "frame-too-large");
  }
  return n;
}

namespace {

// Builds the message in `builder` and writes its flat serialisation into `out` (whose content
// is replaced) after `offset` reserved bytes: a batch frame is megabytes, and going through
// messageToFlatArray, a payload string and a frame string copied it three times.
Result<void> encode_into(const Message& message, const DecodeLimits& limits, size_t offset,
                         capnp::MessageBuilder& builder, std::string& out) {
  auto env = builder.initRoot<wire::Envelope>();
  env.setRequestId(message.request_id);
  env.setAnswer(message.answer);
  std::visit(Encoder{env.initBody()}, message.body);
  const size_t bytes = capnp::computeSerializedSizeInWords(builder) * sizeof(capnp::word);
  if (bytes > limits.max_frame_bytes) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("message of {} bytes exceeds the frame limit of {}", bytes,
                                  limits.max_frame_bytes),
                      std::string(message_kind_name(message.kind())));
  }
  out.clear();
  out.resize(offset + bytes);
  kj::ArrayOutputStream stream(kj::arrayPtr(reinterpret_cast<kj::byte*>(out.data()) + offset, bytes));
  capnp::writeMessage(stream, builder);
  return ok();
}

void put_frame_header(std::string& frame) {
  const auto n = static_cast<uint32_t>(frame.size() - kFrameHeaderBytes);
  frame[0] = static_cast<char>(n >> 24);
  frame[1] = static_cast<char>(n >> 16);
  frame[2] = static_cast<char>(n >> 8);
  frame[3] = static_cast<char>(n);
}

}  // namespace

Result<std::string> encode_payload(const Message& message, const DecodeLimits& limits) {
  capnp::MallocMessageBuilder builder;
  std::string out;
  JISR_TRY(encode_into(message, limits, 0, builder, out));
  return out;
}

Result<std::string> encode_frame(const Message& message, const DecodeLimits& limits) {
  capnp::MallocMessageBuilder builder;
  std::string frame;
  JISR_TRY(encode_into(message, limits, kFrameHeaderBytes, builder, frame));
  put_frame_header(frame);
  return frame;
}

Result<std::string> FrameEncoder::encode(const Message& message, const DecodeLimits& limits) {
  std::string frame;
  if (!spare_frames_.empty()) {
    frame = std::move(spare_frames_.back());
    spare_frames_.pop_back();
  }
  size_t words = 0;
  {
    if (first_segment_.empty()) first_segment_.assign(capnp::SUGGESTED_FIRST_SEGMENT_WORDS, 0);
    static_assert(sizeof(uint64_t) == sizeof(capnp::word));
    capnp::MallocMessageBuilder builder(
        kj::arrayPtr(reinterpret_cast<capnp::word*>(first_segment_.data()), first_segment_.size()));
    auto encoded = encode_into(message, limits, kFrameHeaderBytes, builder, frame);
    if (!encoded) return encoded.error();
    words = (frame.size() - kFrameHeaderBytes) / sizeof(capnp::word);
  }
  // A message that did not fit in the first segment spilled into freshly allocated ones: make
  // the first segment big enough for it next time (the builder has re-zeroed what it used).
  // Bounded: a rare huge frame should not pin its size for the session's life.
  constexpr size_t kMaxFirstSegmentWords = (size_t{4} << 20) / sizeof(capnp::word);
  if (words > first_segment_.size()) first_segment_.assign(std::min(words, kMaxFirstSegmentWords), 0);
  put_frame_header(frame);
  return frame;
}

void FrameEncoder::give_back(std::string frame) {
  if (spare_frames_.size() < 2) spare_frames_.push_back(std::move(frame));
}

namespace {
// Decodes a payload already in word-aligned memory (`bytes` of it).
Result<Message> decode_words(const capnp::word* data, size_t bytes, const DecodeLimits& limits) {
  if (bytes == 0) return malformed("empty frame");
  if (bytes > limits.max_frame_bytes) return malformed("frame exceeds the size limit");
  if (bytes % sizeof(capnp::word) != 0) return malformed("frame is not a whole number of words");
  const kj::ArrayPtr<const capnp::word> words(data, bytes / sizeof(capnp::word));
  capnp::ReaderOptions options;
  // Each word of a well-formed message is visited about once; the slack covers list headers.
  // The limit stops amplification through pointers aliasing the same data.
  options.traversalLimitInWords = words.size() * 2 + 64;
  options.nestingLimit = static_cast<int>(limits.nesting_limit);
  std::string failure;
  Message out;
  // Cap'n Proto reports malformed input by throwing kj::Exception; this is the boundary where
  // that becomes a value. Everything is copied out inside the try, so no reader escapes.
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) return malformed("trailing bytes after the message");
    auto env = reader.getRoot<wire::Envelope>();
    out.request_id = env.getRequestId();
    out.answer = env.getAnswer();
    Decoder d(limits);
    auto body = decode_body(env.getBody(), d);
    if (!body) return body.error();
    if (!d.ok()) return malformed(d.error());
    out.body = std::move(body).value();
  } catch (const kj::Exception& e) {
    failure = std::string(e.getDescription().cStr());
  }
  if (!failure.empty()) {
    // capnp descriptions can be long and multi-line; keep the first line.
    failure = failure.substr(0, failure.find('\n')).substr(0, 200);
    return malformed("malformed message: " + failure);
  }
  return out;
}
}  // namespace

Result<Message> decode_payload(std::string_view payload, const DecodeLimits& limits) {
  // Copy into word-aligned memory (the caller's bytes have no alignment guarantee); the
  // payload's size is checked by decode_words.
  auto words = kj::heapArray<capnp::word>((payload.size() + sizeof(capnp::word) - 1) / sizeof(capnp::word));
  if (!payload.empty()) std::memcpy(words.begin(), payload.data(), payload.size());
  return decode_words(words.begin(), payload.size(), limits);
}

std::span<char> FrameDecoder::buffer(size_t bytes) {
  const size_t words = (bytes + sizeof(capnp::word) - 1) / sizeof(capnp::word);
  if (words > capacity_words_) {
    words_ = std::make_unique_for_overwrite<uint64_t[]>(words);  // filled by the caller: not zeroed
    capacity_words_ = words;
  }
  bytes_ = bytes;
  return {reinterpret_cast<char*>(words_.get()), bytes};
}

Result<Message> FrameDecoder::decode(const DecodeLimits& limits) {
  static_assert(sizeof(uint64_t) == sizeof(capnp::word) && alignof(uint64_t) >= alignof(capnp::word));
  auto out = decode_words(reinterpret_cast<const capnp::word*>(words_.get()), bytes_, limits);
  // Bounded: a rare huge frame should not pin its size for the session's life.
  constexpr size_t kMaxKeptWords = (size_t{4} << 20) / sizeof(capnp::word);
  if (capacity_words_ > kMaxKeptWords) {
    words_.reset();
    capacity_words_ = 0;
  }
  bytes_ = 0;
  return out;
}

Result<Message> decode_frame(std::string_view frame, const DecodeLimits& limits) {
  if (frame.size() < kFrameHeaderBytes) return malformed("truncated frame header");
  std::array<uint8_t, kFrameHeaderBytes> header{};
  std::memcpy(header.data(), frame.data(), kFrameHeaderBytes);
  JISR_TRY(auto n, parse_frame_header(header, limits.max_frame_bytes));
  if (frame.size() - kFrameHeaderBytes != n) return malformed("frame length does not match its header");
  return decode_payload(frame.substr(kFrameHeaderBytes), limits);
}

}  // namespace jisr::protocol
