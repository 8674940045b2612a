// Linguistic data tables of record linkage, kept apart from the code that applies them so that a
// reviewer (or a deployment for another language) can read and extend the rules as data:
//   - character folding (Arabic orthographic variants, Persian/Kurdish letters, digits, Latin
//     letters with diacritics that change the sound);
//   - the cross-script phonetic classes (Arabic letters and Latin spellings meet in one
//     consonant skeleton, in the spirit of Soundex / Beider-Morse adapted to Arabic);
//   - particles: articles, compound-name prefixes, abbreviations;
//   - place words that carry no identity ("city", "village") and alternative place names.
// The tables live in tables.cpp (data only). Thread-safety: immutable constants.
#pragma once

#include <span>
#include <string_view>

namespace jisr::match::tables {

// One code point replaced by a UTF-8 string (empty: dropped). Applied after ICU NFKC case
// folding and before diacritics are removed.
struct CharFold {
  char32_t from;
  std::string_view to;
};
std::span<const CharFold> char_folds();
// Code point ranges removed outright (Arabic harakat, tatweel, Quranic marks).
struct CharRange {
  char32_t first;
  char32_t last;
};
std::span<const CharRange> dropped_ranges();

// A spelling (folded text, Latin or Arabic script) and its phonetic class letter; "" means the
// letter is a vowel or a glide and does not appear in the skeleton. Longer spellings are tried
// first (e.g. "sch" before "sh" before "s").
struct PhoneticRule {
  std::string_view spelling;
  std::string_view skeleton;
};
std::span<const PhoneticRule> phonetic_rules();
// Letters that may start a word as a vowel-like sound before the article's l ("al", "el", "ال",
// "عل"), and the consonants an Arabic article assimilates to ("ar-Rahman", "as-Sayyid").
std::span<const std::string_view> article_vowels();
std::span<const std::string_view> sun_letters();

// Words that are the article on their own ("al", "el", "ال").
std::span<const std::string_view> articles();
// Compound-name prefixes that bind to what follows ("abd al-...", "abu ..."); each is split off
// a joined word so that "Abdulrahman" and "Abd al-Rahman" reduce alike.
std::span<const std::string_view> compound_prefixes();
// Second elements of compound names written joined to the first ("نورالدين", "Nureddine"):
// split off so that they reduce like the separate spelling ("نور الدين", "Nur ad-Din").
std::span<const std::string_view> compound_suffixes();
// Common written abbreviations of names and their full folded form ("mhd" -> "muhammad").
struct Abbreviation {
  std::string_view short_form;
  std::string_view full_form;
};
std::span<const Abbreviation> abbreviations();

// The vowelled skeleton of Arabic-script names (normalize.hpp word_skeletons): letters that
// write a long vowel, and letters the cross-script skeleton drops although they are consonants
// in Arabic (ayn: Latin writes it as ', a or nothing). Each with the mark it leaves.
struct VowelledMark {
  std::string_view spelling;
  char mark;
};
std::span<const VowelledMark> arabic_long_vowels();
std::span<const VowelledMark> arabic_dropped_consonants();

// Place words that do not identify a place ("city", "village", "مدينة").
std::span<const std::string_view> place_stopwords();
// Alternative names of one place; the first name is the canonical one. Only names that the
// phonetic skeleton cannot bring together (exonyms such as Aleppo/Halab, Kurdish and Arabic
// names of one town) belong here.
struct PlaceAliases {
  std::span<const std::string_view> names;
};
std::span<const PlaceAliases> place_aliases();

}  // namespace jisr::match::tables
