// The value a format-1 store wrote for a received record (node/store/schema.hpp kReceived),
// spelled out as a test vector: tests write it by hand to check that such stores still read
// the same. Thread-safety: a pure function.
#pragma once

#include <string>

#include "node/core/bytes.hpp"
#include "node/exchange/sync_records.hpp"

namespace jisr::testing {

inline std::string format1_received_value(const exchange::ReceivedRecord& r) {
  ByteWriter w;
  w.u8(1);
  w.varint(r.version);
  w.bytes(r.sender_agreement);
  w.bytes(r.sender_policy_version);
  w.bytes(r.purpose);
  w.varint(static_cast<uint64_t>(to_unix_ms(r.received_at)));
  w.varint(static_cast<uint64_t>(to_unix_ms(r.retain_until)));
  w.bytes(r.accept_agreement);
  w.bytes(r.accept_policy_version);
  w.raw(encode_fields(r.fields));
  return w.take();
}

}  // namespace jisr::testing
