// Framing and codec: every message kind round-trips; hostile frames are refused as values.
#include "protocol/codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <catch2/catch.hpp>

#include "node/core/record.hpp"
#include "protocol/jisr.capnp.h"

using namespace jisr;
using namespace jisr::protocol;

namespace {

WireRecord sample_record() {
  return WireRecord{RecordId("case-17"), 3, encode_fields({{"given_name", "X"}, {"birth_date", "1990"}})};
}

std::vector<Message> one_of_each() {
  const std::string bytes32(32, '\x7f');
  return {
      {1, Hello{OrgId("mpfp"), 1, 1, {"sync", "match-psi"}}},
      {2, Ping{42}},
      {2, Pong{42}},
      {3, ErrorMessage{ErrorCode::kDenied, "no agreement", 9}},
      {4, RecordBatch{"b-1", AgreementId("mou-2026"), bytes32, "tracing", 10, 12, {sample_record()}}},
      {4, BatchReceipt{bytes32, 10, 12, 1764410000000, OrgId("iimp"), std::string(64, 's'), "b-1", 1, 0}},
      {5, Withdrawal{"w-1", AgreementId("mou-2026"),
                     {{RecordId("case-17"), 3, WithdrawalReason::kConsentWithdrawn}}}},
      {5, WithdrawalReceipt{"w-1", bytes32, 1764410000000, OrgId("iimp"), std::string(64, 's'), 1}},
      {6, MatchRequest{MatchMethod::kBloom, "job-1", AgreementId("mou-2026"), "name-year",
                       {bytes32}, {std::string(128, 'b')}, 1, 0.8f, {std::string(16, 'k')}}},
      {6, MatchResponse{MatchMethod::kPsi, "job-1", {bytes32}, {bytes32, bytes32}, {"h1", "h2"},
                        {{0, "h1", 1.0f, "same given_name"}}, 2, 99}},
      {7, RevealRequest{"job-1", AgreementId("mou-2026"), {"h1"}}},
      {7, RevealResponse{"job-1", {sample_record()}, 1}},
      {0, Checkpoint{100, bytes32, 1764410000000, std::string(64, 's'), OrgId("mpfp")}},
  };
}

std::string header(uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
          static_cast<char>(n)};
}

}  // namespace

TEST_CASE("every message kind round-trips through a frame", "[protocol][codec]") {
  const auto messages = one_of_each();
  REQUIRE(messages.size() == std::variant_size_v<Body>);
  for (const auto& m : messages) {
    INFO(message_kind_name(m.kind()));
    auto frame = encode_frame(m);
    REQUIRE(frame);
    auto back = decode_frame(frame.value());
    REQUIRE(back);
    CHECK(back.value() == m);
  }
}

TEST_CASE("frame headers are bounded", "[protocol][codec]") {
  CHECK(parse_frame_header({0, 0, 0, 8}, 4096).value() == 8);
  auto big = parse_frame_header({0, 0x10, 0, 1}, 4096);
  REQUIRE_FALSE(big);
  CHECK(big.error().where == "frame-too-large");
  auto empty = parse_frame_header({0, 0, 0, 0}, 4096);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().where == "frame-empty");
}

TEST_CASE("hostile frames are refused with one clear error", "[protocol][codec]") {
  const auto good = encode_frame(Message{1, Ping{7}}).value();
  SECTION("truncated payload") {
    auto r = decode_frame(good.substr(0, good.size() - 8));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalidInput);
  }
  SECTION("not whole words") {
    auto r = decode_frame(header(5) + "abcde");
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "frame is not a whole number of words");
  }
  SECTION("garbage words") {
    auto r = decode_frame(header(16) + std::string(16, '\xff'));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().what, Catch::StartsWith("malformed message"));
  }
  SECTION("trailing bytes after the message") {
    const auto payload = good.substr(4) + std::string(8, '\0');
    auto r = decode_frame(header(static_cast<uint32_t>(payload.size())) + payload);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "trailing bytes after the message");
  }
  SECTION("oversized frame is refused before decoding") {
    DecodeLimits small;
    small.max_frame_bytes = 64;
    Message batch{1, RecordBatch{"b", AgreementId("a"), "", "p", 1, 1,
                                 {WireRecord{RecordId("r1"), 1, encode_fields({{"f", std::string(200, 'x')}})}}}};
    CHECK_FALSE(encode_frame(batch, small));
    auto frame = encode_frame(batch).value();
    auto r = decode_frame(frame, small);
    REQUIRE_FALSE(r);
    CHECK(r.error().where == "frame-too-large");
  }
  SECTION("invalid ids inside a valid message") {
    auto frame = encode_frame(Message{1, Hello{OrgId("NOT VALID"), 1, 1, {}}}).value();
    auto r = decode_frame(frame);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "hello org is not a valid organisation id");
  }
  SECTION("hello with an inverted version range") {
    auto r = decode_frame(encode_frame(Message{1, Hello{OrgId("mpfp"), 3, 1, {}}}).value());
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "hello minVersion above maxVersion");
  }
  SECTION("nesting limit is enforced") {
    DecodeLimits shallow;
    shallow.nesting_limit = 2;
    auto frame = encode_frame(Message{1, RecordBatch{"b", AgreementId("a"), "", "p", 1, 1,
                                                     {sample_record()}}}).value();
    auto r = decode_frame(frame, shallow);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().what, Catch::StartsWith("malformed message"));
  }
  SECTION("record fields that are not a canonical record encoding") {
    WireRecord garbled = sample_record();
    garbled.fields += "x";
    auto frame = encode_frame(Message{1, RecordBatch{"b", AgreementId("a"), "", "p", 1, 1, {garbled}}}).value();
    auto r = decode_frame(frame);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "encodedFields is not a canonical record encoding");
  }
  SECTION("per-field length limit") {
    DecodeLimits tight;
    tight.max_text_bytes = 10;
    auto frame = encode_frame(Message{1, ErrorMessage{ErrorCode::kInternal, std::string(11, 'x'), 0}}).value();
    auto r = decode_frame(frame, tight);
    REQUIRE_FALSE(r);
    CHECK(r.error().what == "error text longer than 10 bytes");
  }
}

namespace {

// A batch of one record sent as a field list (what older senders send), decoded.
Result<Message> decode_field_list(std::initializer_list<std::pair<const char*, const char*>> pairs) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<wire::Envelope>().initBody().initRecordBatch();
  batch.setBatchId("b");
  auto record = batch.initRecords(1)[0];
  record.setRecordId("case-17");
  record.setVersion(3);
  auto fields = record.initFields(static_cast<unsigned>(pairs.size()));
  unsigned i = 0;
  for (const auto& [name, value] : pairs) {
    fields[i].setName(name);
    fields[i].setValue(value);
    ++i;
  }
  const auto words = capnp::messageToFlatArray(builder);
  const auto bytes = words.asBytes();
  return decode_payload(std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
}

}  // namespace

TEST_CASE("a record sent as a field list (older senders) reads as its canonical encoding", "[protocol][codec]") {
  // Out of order, a repeated name and an empty value: read as a FieldMap holds them.
  auto m = decode_field_list({{"sex", "male"}, {"given_name", "x"}, {"given_name", "Y"}, {"family_name", ""}});
  REQUIRE(m);
  const auto* b = m.value().get<RecordBatch>();
  REQUIRE(b);
  REQUIRE(b->records.size() == 1);
  CHECK(b->records[0].fields == encode_fields({{"given_name", "Y"}, {"sex", "male"}}));
}

TEST_CASE("a field list that no record can hold is refused, not re-encoded into bad bytes", "[protocol][codec]") {
  // Found by frame_fuzz: an empty field name decoded, then its re-encoded frame did not.
  auto m = decode_field_list({{"given_name", "x"}, {"", "no name"}});
  REQUIRE_FALSE(m);
  CHECK(m.error().what == "fields do not make a valid record");
}

TEST_CASE("a FrameEncoder's frames decode to their messages, message after message", "[protocol][codec]") {
  FrameEncoder encoder;
  RecordBatch big{"b", AgreementId("a"), "", "p", 1, 3000, {}};
  for (int i = 0; i < 3000; ++i) big.records.push_back(sample_record());
  // Small, then larger than the first segment, then small again in the memory the large one left.
  const std::vector<Message> messages = {Message{1, Ping{7}}, Message{2, big}, Message{3, Pong{7}}, Message{4, big}};
  for (const auto& m : messages) {
    auto frame = encoder.encode(m);
    REQUIRE(frame);
    // Not always the bytes of encode_frame(): once the first segment has grown, a large
    // message is laid out in one segment instead of several. The same message either way.
    auto decoded = decode_frame(frame.value());
    REQUIRE(decoded);
    CHECK(decoded.value() == m);
    encoder.give_back(std::move(frame).value());
  }
}

TEST_CASE("a FrameDecoder decodes payload after payload in its reused memory, and refuses what decode_payload refuses",
          "[protocol][codec]") {
  FrameDecoder decoder;
  const auto through = [&](std::string_view payload) {
    auto room = decoder.buffer(payload.size());
    REQUIRE(room.size() == payload.size());
    std::copy(payload.begin(), payload.end(), room.begin());
    return decoder.decode();
  };
  RecordBatch big{"b", AgreementId("a"), "", "p", 1, 3000, {}};
  for (int i = 0; i < 3000; ++i) big.records.push_back(sample_record());
  // Small, large (the memory grows), small again in it, large again.
  for (const auto& m : {Message{1, Ping{7}}, Message{2, big}, Message{3, Pong{7}}, Message{4, big}}) {
    auto payload = encode_payload(m);
    REQUIRE(payload);
    auto decoded = through(payload.value());
    REQUIRE(decoded);
    CHECK(decoded.value() == m);
  }
  // What is left of a larger payload in the memory never reads as part of a smaller one.
  auto ping = encode_payload(Message{5, Ping{9}}).value();
  CHECK(through(ping).value() == Message{5, Ping{9}});
  CHECK_FALSE(through(ping + "x"));                  // not whole words
  CHECK_FALSE(through(ping + std::string(8, '\0')));  // trailing bytes
  CHECK_FALSE(through(""));
  CHECK_FALSE(through(std::string(ping.size(), '\xff')));
  CHECK(through(ping).value() == Message{5, Ping{9}});  // and it goes on decoding after refusals
}
