# Jisr wire protocol, version 1: the one envelope every frame carries between two nodes.
#
# A frame is a 4-byte big-endian length followed by one Cap'n Proto message (flat array,
# unpacked) whose root is Envelope. Peer identity never comes from a message: it comes from the
# verified TLS certificate. Rules (STYLE.md 21): never renumber, only append higher ordinals;
# every field says what it carries. Bytes fields are opaque (hashes, signatures, points).
@0x8b0507421caf59f2;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("jisr::wire");

struct Envelope {
  requestId @0 :UInt64;  # sender-chosen id; a response carries the id of the request it answers; 0 = unsolicited
  body :union {
    hello @1 :Hello;                          # first frame of each side of a session
    ping @2 :Ping;                            # heartbeat request
    pong @3 :Pong;                            # heartbeat answer, same requestId as the ping
    error @4 :Error;                          # refusal or failure; the session may close after it
    recordBatch @5 :RecordBatch;              # policy-filtered records of one agreement
    batchReceipt @6 :BatchReceipt;            # signed acknowledgement of a stored batch
    withdrawal @7 :Withdrawal;                # records the peer must delete (deletion, consent withdrawn)
    withdrawalReceipt @8 :WithdrawalReceipt;  # signed acknowledgement of a withdrawal
    matchRequest @9 :MatchRequest;            # one step of a match job (PSI or Bloom)
    matchResponse @10 :MatchResponse;         # the responder's answer to a match step
    revealRequest @11 :RevealRequest;         # ask for the agreed fields of confirmed matches
    revealResponse @12 :RevealResponse;       # the agreed fields of confirmed matches
    checkpoint @13 :Checkpoint;               # signed head of the sender's audit chain
  }
  answer @14 :Bool;      # true: this frame answers the peer's request requestId, and is never served as a request
}

struct Hello {
  org @0 :Text;                  # organisation the sender says it is (must equal its certificate's org)
  minVersion @1 :UInt16;         # lowest protocol version the sender speaks
  maxVersion @2 :UInt16;         # highest protocol version the sender speaks
  capabilities @3 :List(Text);   # optional features, e.g. "sync", "match-psi", "match-bloom"
}

struct Ping {
  nonce @0 :UInt64;              # echoed in the pong so a late pong cannot be mistaken
}

struct Pong {
  nonce @0 :UInt64;              # the nonce of the ping being answered
}

struct Error {
  code @0 :ErrorCode;            # what kind of failure, for the receiving program
  text @1 :Text;                 # one line for the receiving admin; never personal data
  answers @2 :UInt64;            # requestId of the request this error answers; 0 = the session itself
}

enum ErrorCode {
  unknown @0;                    # a code this version does not know (forward compatibility)
  malformedFrame @1;             # the frame or its message did not decode
  frameTooLarge @2;              # the length prefix exceeds the receiver's max_frame_bytes
  versionMismatch @3;            # no common protocol version
  unexpectedMessage @4;          # a message that is not valid in the session's state
  denied @5;                     # policy or agreement refused the request
  overloaded @6;                 # retry later (quota, backpressure)
  internal @7;                   # the receiver failed; not the sender's fault
  unsupported @8;                # the receiver has no handler for this kind of message
}

struct Field {
  name @0 :Text;                 # schema field name
  value @1 :Text;                # field value after the agreement's transforms
}

struct Record {
  recordId @0 :Text;             # the sender's local record id
  version @1 :UInt64;            # record version; (peer, recordId, version) makes delivery idempotent
  fields @2 :List(Field);        # older senders: the fields one by one (read, never written)
  encodedFields @3 :Data;        # only the fields the agreement allows, in jisr's canonical
                                 # record encoding (sorted, unique names, non-empty values)
}

struct RecordBatch {
  batchId @0 :Text;              # sender-unique id of this batch
  agreementId @1 :Text;          # agreement under which the records are disclosed
  policyVersion @2 :Data;        # SHA-256 of the canonical policy that allowed them
  purpose @3 :Text;              # declared purpose of the disclosure
  firstSeq @4 :UInt64;           # first outbox sequence number covered
  lastSeq @5 :UInt64;            # last outbox sequence number covered (inclusive)
  records @6 :List(Record);      # the records
}

struct BatchReceipt {
  batchHash @0 :Data;            # SHA-256 of the batch as received
  firstSeq @1 :UInt64;           # sequence range acknowledged (echoed from the batch)
  lastSeq @2 :UInt64;
  receiverTimeMs @3 :Int64;      # receiver clock, Unix milliseconds, when stored
  receiverOrg @4 :Text;          # the receiving organisation
  signature @5 :Data;            # Ed25519 signature of the receiver over the receipt fields
  batchId @6 :Text;              # id of the acknowledged batch
  accepted @7 :UInt32;           # records stored
  rejected @8 :UInt32;           # records refused by the receiver's accept rules
}

struct WithdrawnRecord {
  recordId @0 :Text;             # the sender's record id
  version @1 :UInt64;            # version being withdrawn (and every earlier one)
  reason @2 :WithdrawalReason;   # why, without personal detail
}

enum WithdrawalReason {
  deleted @0;                    # the record was deleted at the source
  consentWithdrawn @1;           # the family withdrew consent
  agreementEnded @2;             # the agreement no longer covers it
  corrected @3;                  # superseded; a corrected version may follow
}

struct Withdrawal {
  withdrawalId @0 :Text;         # sender-unique id
  agreementId @1 :Text;          # agreement under which the records had been disclosed
  records @2 :List(WithdrawnRecord);  # what to delete
}

struct WithdrawalReceipt {
  withdrawalId @0 :Text;         # id of the acknowledged withdrawal
  withdrawalHash @1 :Data;       # SHA-256 of the withdrawal as received
  receiverTimeMs @2 :Int64;      # receiver clock, Unix milliseconds, when deleted
  receiverOrg @3 :Text;          # the receiving organisation
  signature @4 :Data;            # Ed25519 signature of the receiver over the receipt fields
  deleted @5 :UInt32;            # records actually deleted
}

enum MatchMethod {
  psi @0;                        # ECDH private set intersection over ristretto255
  bloom @1;                      # keyed Bloom-filter encodings compared by Dice coefficient
}

struct MatchRequest {
  method @0 :MatchMethod;        # which protocol this step belongs to
  jobId @1 :Text;                # querier-unique id of the match job
  agreementId @2 :Text;          # agreement that permits the match
  keyKind @3 :Text;              # which match key, e.g. "name-birthyear"
  points @4 :List(Data);         # PSI: the querier's blinded points
  blooms @5 :List(Data);         # Bloom: the querier's encodings
  count @6 :UInt32;              # number of items the querier has in this job
  threshold @7 :Float32;         # Bloom: minimum Dice coefficient of a candidate
  blockKeys @8 :List(Data);      # Bloom: per encoding, its blocking keys (8-byte keyed hashes, concatenated)
  # A job too large for one frame is uploaded in parts and its answer fetched in pages, each a
  # request/answer of its own: parts 0..parts-1 carry slices of points, blooms and blockKeys (the
  # other fields repeated); the answer to the last part is page 0; then requests with page >= 1
  # and no slices fetch the rest. parts 0 means 1.
  part @9 :UInt32;
  parts @10 :UInt32;
  page @11 :UInt32;
}

struct MatchCandidate {
  queryIndex @0 :UInt32;         # index in the request's points or blooms
  handle @1 :Data;               # opaque responder handle, usable in a reveal request
  score @2 :Float32;             # Bloom: Dice coefficient; PSI: 1
  evidence @3 :Text;             # Bloom: per-field grades by field name ("same given_name; similar family_name"), no values
}

struct MatchResponse {
  method @0 :MatchMethod;        # echoed from the request
  jobId @1 :Text;                # echoed from the request
  points @2 :List(Data);         # PSI: the querier's points blinded again, same order
  responderPoints @3 :List(Data);  # PSI: the responder's own blinded points
  handles @4 :List(Data);        # PSI: opaque handles aligned with responderPoints
  candidates @5 :List(MatchCandidate);  # Bloom: candidates above the threshold
  count @6 :UInt32;              # number of items on the responder side
  quotaLeft @7 :UInt32;          # match queries the querier may still send in the current period
  page @8 :UInt32;               # which page of the answer this is (slices of points, responderPoints with handles, candidates)
  pages @9 :UInt32;              # how many pages the answer has; 0: an upload part was received, no answer yet
}

struct RevealRequest {
  jobId @0 :Text;                # match job the confirmed matches come from
  agreementId @1 :Text;          # agreement whose reveal rule applies
  handles @2 :List(Data);        # responder handles of confirmed matches
}

struct RevealResponse {
  jobId @0 :Text;                # echoed from the request
  records @1 :List(Record);      # the fields the agreement reveals, one per allowed handle
  refused @2 :UInt32;            # handles not revealed (unknown, no consent, not allowed)
}

struct Checkpoint {
  seq @0 :UInt64;                # sequence number of the audit entry at the head
  hash @1 :Data;                 # SHA-256 chain hash at that entry
  timeMs @2 :Int64;              # when the checkpoint was made, Unix milliseconds
  signature @3 :Data;            # Ed25519 signature of the sender over (seq, hash, time)
  org @4 :Text;                  # the organisation whose audit chain this is
}
