#include "node/match/normalize.hpp"

#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "node/match/tables.hpp"

namespace jisr::match {
namespace {

const icu::Normalizer2& nfkc_casefold() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(status);
  // ICU's data is part of the installed library; without it nothing can work (environment fault).
  if (U_FAILURE(status) || n == nullptr) throw std::runtime_error("ICU NFKC_Casefold unavailable");
  return *n;
}

const icu::Normalizer2& nfd() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status) || n == nullptr) throw std::runtime_error("ICU NFD unavailable");
  return *n;
}

// Built once, then only used through const member functions (ICU documents transliterate()
// as const and thread-safe on a shared instance).
const icu::Transliterator& any_to_latin() {
  static const std::unique_ptr<const icu::Transliterator> instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::Transliterator> t(icu::Transliterator::createInstance(
        icu::UnicodeString::fromUTF8("Any-Latin; Latin-ASCII; Lower"), UTRANS_FORWARD, status));
    if (U_FAILURE(status) || !t) throw std::runtime_error("ICU Any-Latin unavailable");
    return std::unique_ptr<const icu::Transliterator>(std::move(t));
  }();
  return *instance;
}

bool dropped(char32_t c) {
  for (const auto& r : tables::dropped_ranges()) {
    if (c >= r.first && c <= r.last) return true;
  }
  return false;
}

const tables::CharFold* find_fold(char32_t c) {
  for (const auto& f : tables::char_folds()) {
    if (f.from == c) return &f;
  }
  return nullptr;
}

bool is_arabic(UChar32 c) {
  return (c >= 0x0600 && c <= 0x06FF) || (c >= 0x0750 && c <= 0x077F) ||
         (c >= 0x08A0 && c <= 0x08FF) || (c >= 0xFB50 && c <= 0xFDFF) ||
         (c >= 0xFE70 && c <= 0xFEFF);
}

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

bool is_separator_punct(UChar32 c) { return c == ',' || c == '/' || c == ';' || c == '(' || c == ')' || c == '|'; }

std::vector<std::string> split(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (seps.find(c) != std::string_view::npos) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool contains(std::span<const std::string_view> list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool has_letter(std::string_view word) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(word);
  for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) {
    if (u_isalpha(u.char32At(i))) return true;
  }
  return false;
}

// One matched spelling of a word: its class letter ("" for a vowel) and its spelling.
struct Unit {
  std::string_view cls;
  std::string_view spelling;
};

std::vector<Unit> phonetic_units(std::string_view word) {
  std::vector<Unit> units;
  size_t pos = 0;
  while (pos < word.size()) {
    const tables::PhoneticRule* best = nullptr;
    for (const auto& r : tables::phonetic_rules()) {
      if (r.spelling.size() > (best ? best->spelling.size() : 0) &&
          word.substr(pos, r.spelling.size()) == r.spelling) {
        best = &r;
      }
    }
    if (best) {
      units.push_back(Unit{best->skeleton, best->spelling});
      pos += best->spelling.size();
    } else {
      // Digits, stray marks or letters without a rule: skip one UTF-8 sequence.
      unsigned char c = static_cast<unsigned char>(word[pos]);
      size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
      pos += len;
    }
  }
  return units;
}

// Consonant runs from `from` on ("eppo" has one: doubled letters count once).
size_t consonants(const std::vector<Unit>& units, size_t from) {
  size_t n = 0;
  std::string_view last;
  for (size_t i = from; i < units.size(); ++i) {
    if (!units[i].cls.empty() && units[i].cls != last) ++n;
    if (!units[i].cls.empty()) last = units[i].cls;
  }
  return n;
}

bool needs_transliteration(std::string_view word) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(word);
  for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) {
    UChar32 c = u.char32At(i);
    if (c >= 0x80 && !is_arabic(c) && u_isalpha(c)) return true;
  }
  return false;
}

// Canonical skeleton of every alternative place name (built once, immutable afterwards).
const std::unordered_map<std::string, std::string>& place_alias_map() {
  static const std::unordered_map<std::string, std::string> map = [] {
    std::unordered_map<std::string, std::string> m;
    for (const auto& group : tables::place_aliases()) {
      std::string canonical = name_skeleton(group.names.front());
      for (auto name : group.names) m.emplace(name_skeleton(name), canonical);
    }
    return m;
  }();
  return map;
}

}  // namespace

std::string collapse_runs(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.empty() || out.back() != c) out.push_back(c);
  }
  return out;
}

std::string fold_text(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString in = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  icu::UnicodeString cf = nfkc_casefold().normalize(in, status);
  if (U_FAILURE(status)) return {};

  icu::UnicodeString mapped;
  for (int32_t i = 0; i < cf.length(); i = cf.moveIndex32(i, 1)) {
    UChar32 c = cf.char32At(i);
    if (dropped(static_cast<char32_t>(c))) continue;
    if (const auto* f = find_fold(static_cast<char32_t>(c))) {
      mapped.append(icu::UnicodeString::fromUTF8(
          icu::StringPiece(f->to.data(), static_cast<int32_t>(f->to.size()))));
    } else {
      mapped.append(c);
    }
  }
  icu::UnicodeString decomposed = nfd().normalize(mapped, status);
  if (U_FAILURE(status)) return {};

  // Drop combining marks, keep letters and digits, turn the rest into separators.
  icu::UnicodeString kept;
  for (int32_t i = 0; i < decomposed.length(); i = decomposed.moveIndex32(i, 1)) {
    UChar32 c = decomposed.char32At(i);
    int8_t type = u_charType(c);
    if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK) continue;
    if (u_isalnum(c)) {
      kept.append(c);
    } else if (c == '-') {
      kept.append(c);
    } else if (is_separator_punct(c)) {
      kept.append(UChar32(','));
    } else {
      kept.append(UChar32(' '));
    }
  }
  icu::UnicodeString composed = icu::Normalizer2::getNFCInstance(status)->normalize(kept, status);
  if (U_FAILURE(status)) return {};
  std::string raw = to_utf8(composed);

  // Tidy separators: " - " separates parts like ','; runs of spaces collapse; no space next to
  // ',' or at the ends; hyphens at word edges vanish.
  std::string out;
  std::vector<std::string> tokens = split(raw, " ");
  for (auto& t : tokens) {
    if (t == "-") t = ",";
  }
  for (const auto& t : tokens) {
    if (t.empty()) continue;
    if (t == ",") {
      if (!out.empty() && out.back() != ',') out.push_back(',');
      continue;
    }
    if (!out.empty() && out.back() != ',') out.push_back(' ');
    out.append(t);
  }
  // Commas glued to words: normalise "a,b" / "a ,b" already handled by split; trim ends.
  std::string clean;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (c == ',') {
      while (!clean.empty() && (clean.back() == ' ' || clean.back() == ',')) clean.pop_back();
      if (!clean.empty()) clean.push_back(',');
      while (i + 1 < out.size() && (out[i + 1] == ' ' || out[i + 1] == ',')) ++i;
    } else {
      clean.push_back(c);
    }
  }
  while (!clean.empty() && (clean.back() == ',' || clean.back() == ' ')) clean.pop_back();
  return clean;
}

std::vector<std::string> name_words(std::string_view utf8) {
  std::vector<std::string> out;
  for (auto& raw : split(fold_text(utf8), " ,-")) {
    std::string word = raw;
    for (const auto& a : tables::abbreviations()) {
      if (word == a.short_form) word = std::string(a.full_form);
    }
    if (!has_letter(word)) continue;
    if (contains(tables::articles(), word)) continue;
    bool split_done = false;
    for (auto prefix : tables::compound_prefixes()) {
      if (word.size() > prefix.size() && word.compare(0, prefix.size(), prefix) == 0) {
        std::string rest = word.substr(prefix.size());
        out.emplace_back(prefix);
        if (!contains(tables::articles(), rest) && has_letter(rest)) out.push_back(std::move(rest));
        split_done = true;
        break;
      }
    }
    if (!split_done) {
      for (auto suffix : tables::compound_suffixes()) {
        if (word.size() >= suffix.size() + 2 &&
            word.compare(word.size() - suffix.size(), suffix.size(), suffix) == 0) {
          out.push_back(word.substr(0, word.size() - suffix.size()));
          word = std::string(suffix);
          break;
        }
      }
      out.push_back(std::move(word));
    }
  }
  return out;
}

std::string word_skeleton(std::string_view folded_word) { return word_skeletons(folded_word).plain; }

WordSkeletons word_skeletons(std::string_view folded_word) {
  std::string latin;
  if (needs_transliteration(folded_word)) {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(folded_word.data(), static_cast<int32_t>(folded_word.size())));
    any_to_latin().transliterate(u);
    latin = fold_text(to_utf8(u));
    folded_word = latin;
  }
  std::vector<Unit> units = phonetic_units(folded_word);
  size_t start = 0;
  // A joined article: vowel + l + at least two consonants ("alibrahim", "الابراهيم", "elhasan"),
  // or, in Arabic script, ال + one consonant among at least three letters ("الايوبي", "العيسى",
  // "الاوسو": their skeletons are one consonant long, and one source writes them without the
  // article). Not in Latin, where a joined "al" is as often the name itself ("Aleppo"), nor
  // before ي, where it is the name إلياس written الياس.
  const bool arabic_article = units.size() >= 5 && units[0].spelling == "\u0627" &&
                              units[2].spelling != "\u064a";
  if (units.size() >= 3 && contains(tables::article_vowels(), units[0].spelling) &&
      units[1].cls == "L" &&
      (consonants(units, 2) >= 2 || (arabic_article && consonants(units, 2) == 1))) {
    start = 2;
  }
  // Final h sounds (with only vowels after them) are dropped in both scripts: ة, ه and ح at the
  // end of a word are written -a, -ah, -eh, -e or -h in Latin (Fatimah/Fatma, Saleh/صالح,
  // Taha/طه), so the only consistent reading is none. At least one consonant is kept.
  size_t end = units.size();
  for (;;) {
    size_t last = end;
    while (last > start && units[last - 1].cls.empty()) --last;
    if (last == start || units[last - 1].cls != "H") break;
    size_t before = last - 1;
    while (before > start && units[before - 1].cls.empty()) --before;
    if (before == start) break;
    end = last - 1;
  }
  WordSkeletons out;
  for (size_t i = start; i < end; ++i) out.plain.append(units[i].cls);
  // Arabic script writes long vowels (ا و ي) and leaves short ones out, so in Arabic the
  // vowel letters tell names apart that share their consonants (محمد/محمود, حسن/حسين,
  // عمر/عامر). Latin spellings do not mark length reliably (Muhammad, Mahmud): none there.
  // Words of other scripts were transliterated above and Latin is ASCII after folding, so a
  // word whose first letter is not ASCII is in Arabic script.
  const bool arabic = latin.empty() && !units.empty() && static_cast<unsigned char>(units[0].spelling[0]) >= 0x80;
  if (arabic) {
    const auto mark_of = [](std::span<const tables::VowelledMark> marks, std::string_view spelling) {
      for (const auto& m : marks) {
        if (m.spelling == spelling) return m.mark;
      }
      return '\0';
    };
    // Vowels after the last consonant are left out: final ى is read "a" and written ى, ا or
    // (folded) ي interchangeably (شذى/شذا, موسى).
    size_t last = end;
    while (last > start && units[last - 1].cls.empty()) --last;
    bool consonant_seen = false;
    for (size_t i = start; i < last; ++i) {
      if (!units[i].cls.empty()) {
        out.vowelled.append(units[i].cls);
        consonant_seen = true;
      } else if (char c = mark_of(tables::arabic_dropped_consonants(), units[i].spelling)) {
        out.vowelled.push_back(c);
        consonant_seen = true;
      } else if (char v = mark_of(tables::arabic_long_vowels(), units[i].spelling); v && consonant_seen) {
        out.vowelled.push_back(v);
      }
    }
  }
  return out;
}


NameSkeletons name_skeletons(std::string_view utf8) {
  const auto words = name_words(utf8);
  // The first name: one word, or a compound prefix with what follows, and "الدين" / "eddine"
  // (or "din" left over when a hyphenated article was dropped, "al-Din") after that.
  size_t first = 1;
  if (first < words.size() && contains(tables::compound_prefixes(), words[0])) ++first;
  constexpr std::array<std::string_view, 3> kDetachedDin = {"din", "deen", "dine"};
  if (first < words.size() && (contains(tables::compound_suffixes(), words[first]) ||
                               contains(kDetachedDin, words[first]))) {
    ++first;
  }
  NameSkeletons out;
  bool all_vowelled = !words.empty();
  for (size_t i = 0; i < words.size(); ++i) {
    WordSkeletons w = word_skeletons(words[i]);
    out.whole.append(w.plain);
    if (w.vowelled.empty() && !w.plain.empty()) all_vowelled = false;
    out.vowelled.append(w.vowelled);
    if (i + 1 == first && first < words.size()) out.first = collapse_runs(out.whole);
  }
  out.whole = collapse_runs(out.whole);
  out.vowelled = all_vowelled ? collapse_runs(out.vowelled) : std::string();
  return out;
}

std::string name_skeleton(std::string_view utf8) { return name_skeletons(utf8).whole; }

std::string first_name_skeleton(std::string_view utf8) { return name_skeletons(utf8).first; }

std::vector<std::string> place_skeletons(std::string_view utf8) {
  std::vector<std::string> out;
  const auto& aliases = place_alias_map();
  for (const auto& part : split(fold_text(utf8), ",")) {
    std::string kept;
    for (const auto& w : split(part, " ")) {
      if (contains(tables::place_stopwords(), w)) continue;
      if (!kept.empty()) kept.push_back(' ');
      kept.append(w);
    }
    std::string sk = name_skeleton(kept);
    if (sk.empty()) continue;
    if (auto it = aliases.find(sk); it != aliases.end()) sk = it->second;
    if (std::find(out.begin(), out.end(), sk) == out.end()) out.push_back(std::move(sk));
  }
  return out;
}

std::string id_digits(std::string_view utf8) {
  std::string out;
  for (char c : fold_text(utf8)) {
    if (c >= '0' && c <= '9' && !(out.empty() && c == '0')) out.push_back(c);
  }
  return out;
}

std::vector<std::string> text_words(std::string_view utf8) { return split(fold_text(utf8), " ,-"); }

}  // namespace jisr::match
