// Framing and the wire<->domain codec. A frame is a 4-byte big-endian payload length followed by
// one unpacked Cap'n Proto flat-array message whose root is wire::Envelope. Decoding is
// hostile-input safe: the length is checked against the limit before anything is read, the
// payload must be whole words, capnp reads with explicit traversal and nesting limits, and every
// field is copied and bounded into a domain Message so no capnp reader outlives decode_payload.
// Thread-safety: pure functions, except FrameEncoder (one owner, one thread).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/result.hpp"
#include "protocol/messages.hpp"

namespace jisr::protocol {

inline constexpr size_t kFrameHeaderBytes = 4;

struct DecodeLimits {
  uint32_t max_frame_bytes = 16 * 1024 * 1024;  // payload bytes (node.yaml limits.max_frame_bytes)
  uint32_t nesting_limit = 16;                  // capnp nesting; our schema needs 5
  uint32_t max_list_items = 1'000'000;          // any one list
  uint32_t max_text_bytes = 1 << 20;            // any one Text or Data field
};

// The payload length announced by a frame header. Errors: kInvalidInput when it is zero or
// larger than max_frame_bytes (the caller answers with ErrorCode::kFrameTooLarge or
// kMalformedFrame, told apart by error.where == "frame-too-large" / "frame-empty").
Result<uint32_t> parse_frame_header(const std::array<uint8_t, kFrameHeaderBytes>& header,
                                    uint32_t max_frame_bytes);

// Encodes a message as its payload (no header). Errors: kInvalidInput when a field exceeds
// the limits (the peer would refuse it).
Result<std::string> encode_payload(const Message& message, const DecodeLimits& limits = {});
// Encodes header + payload; errors when the payload exceeds limits.max_frame_bytes.
Result<std::string> encode_frame(const Message& message, const DecodeLimits& limits = {});

// Encodes frames like encode_frame(), reusing its memory from one message to the next: the
// Cap'n Proto builder's first segment (grown to the largest message so far) and the frame
// strings the caller hands back. A sync batch frame is megabytes; a fresh builder and a fresh
// string per frame cost the sender's io thread a zeroed, page-faulted allocation each, twice.
// Thread-safety: a resource; one owner, one thread (a session's).
class FrameEncoder {
 public:
  FrameEncoder() = default;
  FrameEncoder(const FrameEncoder&) = delete;
  FrameEncoder& operator=(const FrameEncoder&) = delete;

  // The frame of a message, in a string taken from those given back (a new one when none is).
  // Errors as encode_frame().
  Result<std::string> encode(const Message& message, const DecodeLimits& limits = {});
  // Returns a frame string once written, to hold the next frame. Keeps at most two.
  void give_back(std::string frame);

 private:
  std::vector<uint64_t> first_segment_;  // zeroed between messages (capnp's builder re-zeroes what it used)
  std::vector<std::string> spare_frames_;
};

// Decodes payloads like decode_payload(), read straight into reused word-aligned memory: a
// sync batch is megabytes, and a fresh zeroed string per frame, then a copy into fresh aligned
// words, cost the receiver two page-faulted allocations per frame (a seventh of its time).
// Thread-safety: a resource; one owner, one thread (a session's).
class FrameDecoder {
 public:
  // Room for a payload of `bytes`, valid until the next call; the caller fills all of it.
  std::span<char> buffer(size_t bytes);
  // Decodes the payload written into the last buffer(). Errors as decode_payload().
  Result<Message> decode(const DecodeLimits& limits = {});

 private:
  std::unique_ptr<uint64_t[]> words_;  // capnp words; kept for the next frame unless huge
  size_t capacity_words_ = 0;
  size_t bytes_ = 0;  // of the payload in words_
};

// Decodes one payload (without header). Errors: kInvalidInput with a one-line reason for
// anything malformed (bad words, pointer out of bounds, limits exceeded, unknown union member,
// invalid ids).
Result<Message> decode_payload(std::string_view payload, const DecodeLimits& limits = {});

// Decodes a complete frame (header + payload, nothing after it). For tests and fuzzing.
Result<Message> decode_frame(std::string_view frame, const DecodeLimits& limits = {});

}  // namespace jisr::protocol
