// libFuzzer target: frame decoding and envelope parsing (protocol/codec). Any input must give
// a Message or an error, never a crash, a hang or a sanitizer report; and whatever decodes must
// re-encode to a frame that decodes to the same bytes again (the codec is its own inverse).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  jisr::protocol::DecodeLimits limits;
  limits.max_frame_bytes = 1 << 20;  // keep each run cheap; the limit logic is the same
  limits.max_list_items = 1 << 12;
  limits.max_text_bytes = 1 << 16;
  // Both entry points on every input: a whole frame (header checked) and a bare payload.
  for (const bool whole_frame : {true, false}) {
    auto decoded = whole_frame ? jisr::protocol::decode_frame(input, limits)
                               : jisr::protocol::decode_payload(input, limits);
    if (!decoded) continue;
    auto first = jisr::protocol::encode_frame(decoded.value(), limits);
    if (!first) continue;  // e.g. a message that only fits with the decoder's slack
    auto again = jisr::protocol::decode_frame(first.value(), limits);
    if (!again) std::abort();  // what we encode, we must decode
    auto second = jisr::protocol::encode_frame(again.value(), limits);
    if (!second || second.value() != first.value()) std::abort();
  }
  return 0;
}
