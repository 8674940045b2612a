// RecordFeatures: the normalised identity values of one record, per field of a compiled match
// spec (skeletons of names and places, date ranges, id digits). Computed once per record and
// shared by key generation, Bloom encoding, blocking and the plaintext scorer.
// Personal data: features are derived from names; never log them.
// Thread-safety: value types and pure functions.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "node/core/record.hpp"
#include "node/match/dates.hpp"
#include "node/match/match_spec.hpp"

namespace jisr::match {

struct FieldFeatures {
  bool present = false;
  std::string skeleton;             // kName: phonetic skeleton (normalize.hpp)
  std::string first_name;           // kName: first_name_skeleton(), empty for a single name
  std::string vowelled;             // kName: skeleton with written long vowels (Arabic script only)
  std::string corrected;            // kName: the skeleton this one is likely a misspelling of
                                    // (NameSpellings), empty when none
  std::vector<std::string> parts;   // kPlace: part skeletons; kText: folded words
  std::vector<std::string> regions; // kPlace: larger places of the parts (PlaceHierarchy)
  std::optional<DateValue> date;    // kDate
  bool derived = false;             // kDate: estimated from an age rule
  std::string value;                // kId: digits; kCategory: folded value
};

struct RecordFeatures {
  std::vector<FieldFeatures> fields;  // parallel to CompiledMatchSpec::fields
};

// Normalises the spec's fields of one record. Invalid values (a date that does not parse, an
// age that is not a number) count as absent: linkage evidence must not fail a whole job.
RecordFeatures extract_features(const CompiledMatchSpec& spec, const FieldMap& fields);

// Places at different precision: one source writes a town ("Saraqib"), another its region
// ("Idlib"), a third both ("Saraqib, Idlib"). A PlaceHierarchy learns, from one side's own
// records, the larger place each place is written with: in "Saraqib, Idlib" the larger part
// is the one written beside more different places (a region, beside many towns). extend()
// then names, per place field, the larger places of its parts (FieldFeatures::regions), and a
// scorer counts a town against its region as half agreeing instead of different (two towns of
// one region stay different). Nothing is hard-coded: any country's towns and regions are
// learned the same way, each side from its own records only.
// Thread-safety: learn() and finish() on one thread; then extend() may run concurrently.
class PlaceHierarchy {
 public:
  explicit PlaceHierarchy(const CompiledMatchSpec& spec);
  // Counts the places of one record (its place fields pooled), from its features or, in a
  // first pass over many records that keeps none of them, from its fields (only the places
  // are normalised).
  void learn(const RecordFeatures& record);
  void learn(const FieldMap& fields);
  // After the last learn(): picks each place's larger place.
  void finish();
  // Fills the regions of every place field of `record` (larger places not among its parts).
  void extend(RecordFeatures& record) const;
  size_t size() const { return larger_.size(); }

  // Seen together this often at least before one is taken for the other's region: one
  // record is not a fact about geography.
  static constexpr uint32_t kMinTogether = 2;

 private:
  void count(const std::vector<std::string>& parts);

  std::vector<size_t> place_fields_;
  std::vector<std::string> place_names_;
  std::unordered_map<std::string, std::unordered_map<std::string, uint32_t>> together_;
  std::unordered_map<std::string, std::string> larger_;
};

// Misspelt names: a source's typo ("محدم" for "محمد", "Umat" for "Omar") changes one letter of
// a short skeleton and with it most of its grams, so the name reads as a different one, as a
// sibling's would. A NameSpellings learns, from one side's own records, how often each name
// skeleton is written (all name fields pooled). A skeleton one edit (a letter replaced, added,
// dropped, or two neighbours swapped) from one written at least kCommonAtLeast times, and
// kCommonRatio times as often as itself, and kUnambiguousRatio times as often as any other such
// neighbour, is taken for a misspelling of it (FieldFeatures::corrected); a scorer counts
// agreement through the correction as similar, not the same. A rare name with no common
// neighbour, or with two, is left alone: a real rare name stays what it is. Nothing is
// hard-coded: each side learns from its own records, in any script.
// Thread-safety: learn() and finish() on one thread; then extend() may run concurrently.
class NameSpellings {
 public:
  explicit NameSpellings(const CompiledMatchSpec& spec);
  void learn(const RecordFeatures& record);
  void learn(const FieldMap& fields);
  void finish();
  // Fills FieldFeatures::corrected of every name field of `record`.
  void extend(RecordFeatures& record) const;
  size_t size() const { return corrected_.size(); }

  static constexpr uint32_t kCommonAtLeast = 10;
  static constexpr uint32_t kCommonRatio = 20;
  static constexpr uint32_t kUnambiguousRatio = 3;

 private:
  std::vector<size_t> name_fields_;
  std::vector<std::string> field_names_;
  std::unordered_map<std::string, uint32_t> count_;
  std::unordered_map<std::string, std::string> corrected_;
};

// What a side learns from all of its own records before it encodes them for a bloom job: its
// places' regions (PlaceHierarchy) and its names' likely misspellings (NameSpellings). A first
// pass learns every record, finish() decides, then extend() completes each record's features
// as it is encoded, so no features are kept per record in between.
// Thread-safety: as its parts: learn() and finish() on one thread, then extend() concurrently.
class OwnVocabulary {
 public:
  explicit OwnVocabulary(const CompiledMatchSpec& spec) : places_(spec), spellings_(spec) {}
  void learn(const RecordFeatures& record) {
    places_.learn(record);
    spellings_.learn(record);
  }
  void learn(const FieldMap& fields) {
    places_.learn(fields);
    spellings_.learn(fields);
  }
  void finish() {
    places_.finish();
    spellings_.finish();
  }
  void extend(RecordFeatures& record) const {
    places_.extend(record);
    spellings_.extend(record);
  }
  const NameSpellings& spellings() const { return spellings_; }

 private:
  PlaceHierarchy places_;
  NameSpellings spellings_;
};

}  // namespace jisr::match
