// The one file that declares every LMDB table of a node (STYLE.md 19): its name, key and value
// layout, and the store format version. A store whose format version is outside
// [kOldestReadableFormat, kFormatVersion] is refused at open. Adding a table is compatible
// (tables are created on open); changing a key or value layout needs a new format version, and
// either a migration or readers of both layouts. A store of an older readable version is
// stamped with kFormatVersion when opened for writing, so that an older jisr, which could not
// read what this one writes, refuses the store by its version instead of calling it corrupt.
// Thread-safety: constants only.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace jisr::store {

// 2: received records name their provenance by id (kProvenance) instead of holding it; the
//    records of version 1 stay readable as they are (their values carry a format byte).
inline constexpr uint64_t kFormatVersion = 2;
inline constexpr uint64_t kOldestReadableFormat = 1;

enum class Table : uint8_t {
  // key: UTF-8 name ("format", "last_seq", "live_records", ...) -> value: decimal text or bytes
  kMeta,
  // key: record id -> value: [u8 fmt=1][varint version][varint seq][u8 deleted][fields]
  //   (fields as node/core/record.hpp encode_fields; a deleted record keeps its tombstone so
  //   versions stay monotonic if the id returns)
  kRecords,
  // key: be64 seq -> value: [bytes record id][varint version][u8 deleted]; exactly one entry
  //   per record: its latest change. Drives the per-peer outboxes.
  kChanges,
  // key: policy version (sha256 hex) -> value: agreement YAML text and metadata (policies/)
  kPolicyVersions,
  // key: be64 history seq -> value: applied policy event (policies/)
  kPolicyHistory,
  // key: peer org -> value: active policy version hash for that peer (policies/)
  kPolicyActive,
  // key: be64 entry seq -> value: audit entry (node/audit)
  kAuditLog,
  // key: be64 entry seq -> value: signed checkpoint of the local chain (node/audit)
  kAuditCheckpoints,
  // key: peer org + be64 seq -> value: checkpoint head signed by that peer (node/audit)
  kPeerCheckpoints,
  // key: peer org -> value: outbox state (last acknowledged seq, ...) (node/exchange)
  kOutboxState,
  // key: peer org + be64 receipt seq -> value: signed receipt from the peer (node/exchange)
  kReceipts,
  // key: peer org + 0x00 + remote id -> value: received record (node/exchange), either
  //   [u8 fmt=2][varint version][8 bytes provenance id][varint received_at ms]
  //   [varint retain_until ms][fields], or (written by format 1 stores) the provenance in full:
  //   [u8 fmt=1][varint version][bytes sender agreement][bytes sender policy version hex]
  //   [bytes purpose][varint received_at ms][varint retain_until ms][bytes accept agreement]
  //   [bytes accept policy version hex][fields]
  kReceived,
  // key: peer org + 0x00 + record id -> value: what was last sent (version, digest) (exchange)
  kSentState,
  // key: match job id / candidate id -> value: candidate (node/exchange)
  kMatches,
  // key: peer org + day -> value: records queried that day (quota) (node/exchange)
  kMatchQuota,
  // key: peer org + 0x00 + step id -> value: [u8 fmt=1][varint n] n*[bytes record id]: the
  //   records of a sync step sent (or about to be) and not yet committed (node/exchange)
  kInFlight,
  // key: 8 bytes provenance id -> value: [u8 fmt=1][bytes sender agreement][policy version]
  //   [bytes purpose][bytes accept agreement][policy version], each policy version as
  //   [u8 0][bytes text] or [u8 1][32 raw bytes]: the provenance that the received records of
  //   a batch share, stored once (node/exchange). The id is the first 8 bytes of a SHA-256 over
  //   the value, the next free one on a collision.
  kProvenance,
  kCount
};

struct TableInfo {
  std::string_view name;
};

inline constexpr std::array<TableInfo, static_cast<size_t>(Table::kCount)> kTables = {{
    {"meta"},
    {"records"},
    {"changes"},
    {"policy_versions"},
    {"policy_history"},
    {"policy_active"},
    {"audit_log"},
    {"audit_checkpoints"},
    {"peer_checkpoints"},
    {"outbox_state"},
    {"receipts"},
    {"received"},
    {"sent_state"},
    {"matches"},
    {"match_quota"},
    {"in_flight"},
    {"provenance"},
}};

inline constexpr std::string_view table_name(Table t) {
  return kTables[static_cast<size_t>(t)].name;
}

}  // namespace jisr::store
