#include "node/match/bloom.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>

namespace jisr::match {
namespace {

void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium initialisation failed");
}

void add_bigrams(std::string_view s, std::vector<std::string>& out) {
  std::string padded = "^" + std::string(s) + "$";
  for (size_t i = 0; i + 2 <= padded.size(); ++i) out.push_back("b:" + padded.substr(i, 2));
}

}  // namespace

BloomSecret::BloomSecret(BloomSecret&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

BloomSecret& BloomSecret::operator=(BloomSecret&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

BloomSecret::~BloomSecret() { sodium_memzero(bytes_.data(), bytes_.size()); }

std::array<uint8_t, 16> BloomSecret::block_key() const {
  static constexpr std::string_view kLabel = "jisr.bloom.block.v1";
  std::array<uint8_t, 16> key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(),
                     bytes_.data(), bytes_.size());
  return key;
}

Result<BloomSecret> derive_bloom_secret_x25519(const std::array<uint8_t, 32>& own_secret,
                                               const std::array<uint8_t, 32>& own_public,
                                               const std::array<uint8_t, 32>& peer_public,
                                               std::string_view agreement_id) {
  ensure_sodium();
  std::array<uint8_t, crypto_scalarmult_BYTES> shared{};
  if (crypto_scalarmult(shared.data(), own_secret.data(), peer_public.data()) != 0) {
    return make_error(Errc::kInvalidInput, "peer key is a low-order point", "bloom secret");
  }
  const auto& lo = std::min(own_public, peer_public);
  const auto& hi = std::max(own_public, peer_public);
  constexpr std::string_view kDomain = "jisr.bloom.secret.v1";
  crypto_generichash_state st;
  crypto_generichash_init(&st, shared.data(), shared.size(), 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kDomain.data()),
                            kDomain.size());
  uint8_t len = static_cast<uint8_t>(std::min<size_t>(agreement_id.size(), 255));
  crypto_generichash_update(&st, &len, 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(agreement_id.data()), len);
  crypto_generichash_update(&st, lo.data(), lo.size());
  crypto_generichash_update(&st, hi.data(), hi.size());
  std::array<uint8_t, 32> key{};
  crypto_generichash_final(&st, key.data(), key.size());
  sodium_memzero(shared.data(), shared.size());
  sodium_memzero(&st, sizeof st);
  BloomSecret secret(key);
  sodium_memzero(key.data(), key.size());
  return secret;
}

Result<BloomSecret> derive_bloom_secret(const std::array<uint8_t, 64>& own_ed25519_secret,
                                        const std::array<uint8_t, 32>& peer_ed25519_public,
                                        std::string_view agreement_id) {
  ensure_sodium();
  std::array<uint8_t, 32> own_x_secret{}, own_x_public{}, peer_x_public{};
  std::array<uint8_t, 32> own_ed_public{};
  std::memcpy(own_ed_public.data(), own_ed25519_secret.data() + 32, 32);
  if (crypto_sign_ed25519_pk_to_curve25519(peer_x_public.data(), peer_ed25519_public.data()) !=
      0) {
    return make_error(Errc::kInvalidInput, "peer public key is not a valid Ed25519 key",
                      "bloom secret");
  }
  if (crypto_sign_ed25519_pk_to_curve25519(own_x_public.data(), own_ed_public.data()) != 0) {
    return make_error(Errc::kInvalidInput, "own public key is not a valid Ed25519 key",
                      "bloom secret");
  }
  crypto_sign_ed25519_sk_to_curve25519(own_x_secret.data(), own_ed25519_secret.data());
  auto out = derive_bloom_secret_x25519(own_x_secret, own_x_public, peer_x_public, agreement_id);
  sodium_memzero(own_x_secret.data(), own_x_secret.size());
  return out;
}

size_t bloom_segments(const CompiledMatchSpec& spec) {
  size_t n = spec.fields.size();
  for (const auto& f : spec.fields) {
    n += (f.vowel_segment >= 0 ? 1 : 0) + (f.day_segment >= 0 ? 1 : 0) + (f.first_word_segment >= 0 ? 1 : 0) +
         (f.region_segment >= 0 ? 1 : 0) + (f.corrected_segment >= 0 ? 1 : 0);
  }
  return n;
}

namespace {

void add_name_grams(const std::string& skeleton, std::vector<std::string>& grams) {
  add_bigrams(skeleton, grams);
  // Letters too: skeletons are short (2-4 classes), so one typo removes half the bigrams
  // but only one letter.
  for (char c : skeleton) grams.push_back(std::string("u:") + c);
  grams.push_back("w:" + skeleton);
}

void sort_unique(std::vector<std::string>& grams) {
  std::sort(grams.begin(), grams.end());
  grams.erase(std::unique(grams.begin(), grams.end()), grams.end());
}

// The grams of one name skeleton of a name field's extra segments, sorted and unique.
std::vector<std::string> sorted_name_grams(const std::string& skeleton) {
  std::vector<std::string> grams;
  add_name_grams(skeleton, grams);
  sort_unique(grams);
  return grams;
}

}  // namespace

std::vector<std::string> day_grams(const FieldFeatures& f) {
  std::vector<std::string> grams;
  if (!f.present || !f.date || f.date->month == 0 || f.date->day == 0) return grams;
  // Unordered, so a day/month swap still agrees.
  const int a = std::min(f.date->month, f.date->day), b = std::max(f.date->month, f.date->day);
  grams.push_back("md:" + std::to_string(a) + "-" + std::to_string(b));
  return grams;
}

std::vector<std::string> corrected_grams(const FieldFeatures& f) {
  if (!f.present || f.corrected.empty()) return {};
  return sorted_name_grams(f.corrected);
}

std::vector<std::string> first_word_grams(const FieldFeatures& f) {
  if (!f.present || f.first_name.empty() || f.first_name == f.skeleton) return {};
  return sorted_name_grams(f.first_name);
}

std::vector<std::string> region_grams(const FieldFeatures& f) {
  std::vector<std::string> grams;
  if (!f.present) return grams;
  for (const auto& r : f.regions) grams.push_back("w:" + r);
  sort_unique(grams);
  return grams;
}

std::vector<std::string> vowel_grams(const FieldFeatures& f) {
  if (!f.present || f.vowelled.empty()) return {};
  return sorted_name_grams(f.vowelled);
}

std::vector<std::string> field_grams(const MatchField& field, const FieldFeatures& f,
                                     int year_tolerance) {
  std::vector<std::string> grams;
  if (!f.present) return grams;
  switch (field.role) {
    case MatchRole::kName: add_name_grams(f.skeleton, grams); break;
    case MatchRole::kPlace:
      for (const auto& p : f.parts) {
        add_bigrams(p, grams);
        grams.push_back("w:" + p);
      }
      break;
    case MatchRole::kText:
      for (const auto& w : f.parts) {
        add_bigrams(w, grams);
        grams.push_back("w:" + w);
      }
      break;
    case MatchRole::kDate: {
      // Every year the date may stand for, widened by the tolerance: two dates a year apart
      // share most of their year grams, ten years apart none.
      const DateValue& d = *f.date;
      for (int y = d.years.lo - year_tolerance; y <= d.years.hi + year_tolerance; ++y) {
        grams.push_back("y:" + std::to_string(y));
      }
      grams.push_back("c:" + std::to_string(d.years.lo) + "-" + std::to_string(d.years.hi));
      // The month and day also raise the date's own similarity (as they did before they had a
      // segment of their own): a full date agreeing to the day is a closer date.
      auto day = day_grams(f);
      grams.insert(grams.end(), day.begin(), day.end());
      break;
    }
    case MatchRole::kId:
      add_bigrams(f.value, grams);
      grams.push_back("w:" + f.value);
      break;
    case MatchRole::kCategory: grams.push_back("c:" + f.value); break;
    case MatchRole::kNone: break;
  }
  sort_unique(grams);
  return grams;
}

BloomEncoder::BloomEncoder(const CompiledMatchSpec& spec, const BloomSecret& secret)
    : spec_(spec) {
  ensure_sodium();
  // BLAKE2b keyed with the secret over "jisr.bloom.field.v1" || 0 || agreement || 0 || segment.
  const auto segment_key = [&](std::string_view segment) {
    std::string label("jisr.bloom.field.v1");
    label.push_back('\0');
    label += spec.agreement_id;
    label.push_back('\0');
    label += segment;
    std::array<uint8_t, 16> key{};
    crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(label.data()),
                       label.size(), secret.bytes().data(), secret.bytes().size());
    return key;
  };
  // One key per role, not per field: name segments must be comparable across fields to
  // recognise swapped given and father names.
  for (const auto& f : spec.fields) field_keys_.push_back(segment_key(match_role_name(f.role)));
  // The vowel segments have a key of their own: with the name key, a name without long vowels
  // would set the same bits in both segments, and the pair would tell that much.
  vowel_key_ = segment_key("name-vowels");
  day_key_ = segment_key("date-days");
  // The first names share the names' key, so that they compare with a whole name.
  name_key_ = segment_key(match_role_name(MatchRole::kName));
  // The regions share the places' key, so that they compare with a whole place.
  place_key_ = segment_key(match_role_name(MatchRole::kPlace));
}

BloomEncoder::~BloomEncoder() {
  for (auto& k : field_keys_) sodium_memzero(k.data(), k.size());
  sodium_memzero(vowel_key_.data(), vowel_key_.size());
  sodium_memzero(day_key_.data(), day_key_.size());
  sodium_memzero(name_key_.data(), name_key_.size());
  sodium_memzero(place_key_.data(), place_key_.size());
}

BloomMatrix BloomEncoder::make_matrix() const {
  BloomMatrix m;
  m.fields = bloom_segments(spec_);
  return m;
}

void BloomEncoder::encode(const RecordFeatures& record, BloomMatrix& m) const {
  const size_t base = m.bits.size();
  m.bits.resize(base + m.words(), 0);
  uint32_t total = 0;
  auto put = [&](size_t segment, const std::vector<std::string>& grams, const std::array<uint8_t, 16>& key) {
    uint64_t* seg = m.bits.data() + base + segment * kFieldWords;
    for (const auto& g : grams) {
      // Double hashing from one 128-bit keyed SipHash: positions h1 + i·h2.
      std::array<uint8_t, 16> h{};
      crypto_shorthash_siphashx24(h.data(), reinterpret_cast<const unsigned char*>(g.data()),
                                  g.size(), key.data());
      uint64_t h1, h2;
      std::memcpy(&h1, h.data(), 8);
      std::memcpy(&h2, h.data() + 8, 8);
      h2 |= 1;  // odd, so the positions of one gram differ
      for (int i = 0; i < kHashesPerGram; ++i) {
        uint64_t bit = (h1 + static_cast<uint64_t>(i) * h2) % kFieldBits;
        seg[bit / 64] |= uint64_t{1} << (bit % 64);
      }
    }
    uint32_t p = 0;
    for (size_t w = 0; w < kFieldWords; ++w) p += static_cast<uint32_t>(__builtin_popcountll(seg[w]));
    m.field_pops.push_back(p);
    total += p;
  };
  for (size_t fi = 0; fi < spec_.fields.size(); ++fi) {
    put(fi, field_grams(spec_.fields[fi], record.fields[fi], spec_.year_tolerance), field_keys_[fi]);
  }
  // The extra segments, kind after kind and each kind in field order, as compile_match_spec
  // numbers them (field_pops is filled in segment order).
  using Grams = std::vector<std::string> (*)(const FieldFeatures&);
  const std::array<std::tuple<int MatchField::*, Grams, const std::array<uint8_t, 16>*>, 5> extras = {{
      {&MatchField::vowel_segment, &vowel_grams, &vowel_key_},
      {&MatchField::day_segment, &day_grams, &day_key_},
      {&MatchField::first_word_segment, &first_word_grams, &name_key_},
      {&MatchField::region_segment, &region_grams, &place_key_},
      {&MatchField::corrected_segment, &corrected_grams, &name_key_},
  }};
  for (const auto& [segment, grams, key] : extras) {
    for (size_t fi = 0; fi < spec_.fields.size(); ++fi) {
      if (const int seg = spec_.fields[fi].*segment; seg >= 0) put(static_cast<size_t>(seg), grams(record.fields[fi]), *key);
    }
  }
  m.pops.push_back(total);
}

}  // namespace jisr::match
