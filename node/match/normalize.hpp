// Normalisation of identity values for record linkage: Unicode folding (ICU NFKC + case folding,
// Arabic orthographic folding, Persian/Kurdish letters, digits), name words (compound names,
// articles, abbreviations) and the cross-script phonetic skeleton in which an Arabic-script name
// and its Latin transliterations meet (محمد, Mohammad, Muhammad, Mohamed, Mhd -> "MHMD").
// The rules themselves are data in tables.hpp.
// Thread-safety: pure functions; safe from any thread (ICU objects used are immutable).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jisr::match {

// NFKC with case folding, then: Arabic harakat, tatweel and invisible marks removed; hamza and
// alef variants, alef maqsura, ta marbuta and Persian/Kurdish letters folded to one Arabic
// letter; Arabic-Indic and Persian digits to ASCII; Latin diacritics removed (after the letters
// whose diacritic changes the sound, ş -> sh, were spelled out); ayn/hamza apostrophes dropped
// inside words; other punctuation to one space, except ',' (and "/", ";", "(", " - ") which
// become ',' to separate the parts of a place. Spaces collapsed, ends trimmed. Invalid UTF-8
// bytes become U+FFFD.
std::string fold_text(std::string_view utf8);

// The words of a personal name: folded, split on spaces, hyphens and commas; abbreviations
// expanded ("mhd" -> "muhammad"); compound prefixes split from a joined word ("عبدالرحمن" ->
// "عبد" "الرحمن", "abdulrahman" -> "abd" "ulrahman"); articles standing alone ("al", "ال")
// and words with no letters dropped.
std::vector<std::string> name_words(std::string_view utf8);

// Phonetic skeleton of one folded word: consonant classes (tables::phonetic_rules), vowels
// dropped; a leading article joined to the word ("al-", "el", "ال", assimilated "ar-") removed
// when at least two consonants remain; a final ha (ة, -ah, -eh) removed. Words in scripts other
// than Arabic and Latin are first transliterated to Latin with ICU ("Any-Latin; Latin-ASCII").
std::string word_skeleton(std::string_view folded_word);
// The same, and for an Arabic-script word also the skeleton with its written long vowels
// (ا و ي after the first consonant as 'a', 'u', 'i'); empty for other scripts.
struct WordSkeletons {
  std::string plain;
  std::string vowelled;
};
WordSkeletons word_skeletons(std::string_view folded_word);

// Skeleton of a whole name value: the skeletons of its words concatenated, runs of one class
// collapsed (so "عبد الرحمن", "Abdul Rahman", "Abd al-Rahman" and "Abdulrahman" all give
// "BDRHMN"). Empty when the value has no letters.
// And of the first name in a value of several ("فاطمة الحسن" -> "FTM"; a compound such as
// "عبد الرحمن" or "نور الدين" counts as one): a mother is often recorded by her given name in
// one source and her full name in another. Empty when the value is one name only.
// Both from one pass over the words.
struct NameSkeletons {
  std::string whole;
  std::string first;
  std::string vowelled;  // whole with long vowels, when every word is in Arabic script
};
NameSkeletons name_skeletons(std::string_view utf8);
std::string name_skeleton(std::string_view utf8);        // name_skeletons(utf8).whole
std::string first_name_skeleton(std::string_view utf8);  // name_skeletons(utf8).first

// Skeletons of the parts of a place ("Hims - Khalidiya" -> {"HMS", "KLD"}): parts split at
// commas and spaced dashes, generic place words ("city", "مدينة") dropped, alternative names
// mapped to one canonical name (Aleppo, Alep, Halab, حلب -> "HLB"). Empty parts are skipped;
// duplicates removed.
std::vector<std::string> place_skeletons(std::string_view utf8);

// An identifier reduced to its ASCII digits (Arabic-Indic digits folded) with leading zeros
// removed (some sources lose them). Empty when there are no digits.
std::string id_digits(std::string_view utf8);

// Folded words of free text (street address, postcode), for kText fields.
std::vector<std::string> text_words(std::string_view utf8);

// Runs of one character collapsed ("MMHD" -> "MHD").
std::string collapse_runs(std::string_view s);

}  // namespace jisr::match
