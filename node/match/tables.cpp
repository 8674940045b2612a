// Data only: see tables.hpp for what each table means. Every entry follows a published
// orthographic or transliteration convention (Arabic orthography, ALA-LC / DIN 31635 / French
// and English practice, Kurdish Kurmanji Latin alphabet); none is taken from a data file.
#include "node/match/tables.hpp"

#include <array>

namespace jisr::match::tables {
namespace {

constexpr std::array kCharFolds = {
    // Arabic: hamza carriers and alef variants to bare alef, alef maqsura to ya, ta marbuta to
    // ha, hamza on waw/ya to the bare letter (spelling varies freely between writers).
    CharFold{U'\u0623', "\u0627"}, CharFold{U'\u0625', "\u0627"}, CharFold{U'\u0622', "\u0627"},
    CharFold{U'\u0671', "\u0627"}, CharFold{U'\u0672', "\u0627"}, CharFold{U'\u0673', "\u0627"},
    CharFold{U'\u0649', "\u064A"}, CharFold{U'\u0629', "\u0647"}, CharFold{U'\u0624', "\u0648"},
    CharFold{U'\u0626', "\u064A"},
    // Persian and Kurdish keyboard letters to their Arabic twins.
    CharFold{U'\u06CC', "\u064A"},  // Farsi yeh
    CharFold{U'\u06D2', "\u064A"},  // yeh barree
    CharFold{U'\u06CE', "\u064A"},  // Kurdish yeh with small v
    CharFold{U'\u06A9', "\u0643"},  // keheh
    CharFold{U'\u06D5', "\u0647"},  // Kurdish ae
    CharFold{U'\u06C0', "\u0647"},  // heh with yeh above
    CharFold{U'\u06C1', "\u0647"},  // heh goal
    CharFold{U'\u06BE', "\u0647"},  // heh doachashmee
    CharFold{U'\u0695', "\u0631"},  // Kurdish reh with small v (rr)
    CharFold{U'\u06B5', "\u0644"},  // Kurdish lam with small v (ll)
    CharFold{U'\u06C6', "\u0648"},  // Kurdish waw with small v (o)
    CharFold{U'\u06C7', "\u0648"},  // u
    CharFold{U'\u06C8', "\u0648"},  // yu
    CharFold{U'\u06CB', "\u0648"},  // ve (Uyghur/Kazakh)
    // Arabic-Indic and Persian digits to ASCII.
    CharFold{U'\u0660', "0"}, CharFold{U'\u0661', "1"}, CharFold{U'\u0662', "2"},
    CharFold{U'\u0663', "3"}, CharFold{U'\u0664', "4"}, CharFold{U'\u0665', "5"},
    CharFold{U'\u0666', "6"}, CharFold{U'\u0667', "7"}, CharFold{U'\u0668', "8"},
    CharFold{U'\u0669', "9"}, CharFold{U'\u06F0', "0"}, CharFold{U'\u06F1', "1"},
    CharFold{U'\u06F2', "2"}, CharFold{U'\u06F3', "3"}, CharFold{U'\u06F4', "4"},
    CharFold{U'\u06F5', "5"}, CharFold{U'\u06F6', "6"}, CharFold{U'\u06F7', "7"},
    CharFold{U'\u06F8', "8"}, CharFold{U'\u06F9', "9"},
    // Arabic punctuation to its ASCII twin (separators of place parts).
    CharFold{U'\u060C', ","}, CharFold{U'\u061B', ","}, CharFold{U'\u061F', " "},
    // Latin letters whose diacritic changes the sound: Kurdish/Turkish/Czech sh and ch, and
    // the scholarly transliteration of Arabic (ALA-LC, DIN 31635) for kh, gh, dh, th.
    CharFold{U'\u015F', "sh"}, CharFold{U'\u0219', "sh"}, CharFold{U'\u0161', "sh"},
    CharFold{U'\u00E7', "ch"}, CharFold{U'\u010D', "ch"}, CharFold{U'\u1E2B', "kh"},
    CharFold{U'\u1E96', "kh"}, CharFold{U'\u0121', "gh"}, CharFold{U'\u1E0F', "dh"},
    CharFold{U'\u1E6F', "th"}, CharFold{U'\u017E', "zh"}, CharFold{U'\u011F', ""},
    CharFold{U'\u00DF', "ss"},
    // Marks of ayn and hamza in Latin (ʿ ʾ ' ’ ‘ `) carry no consonant we can match across
    // scripts (ع and ء are dropped from the skeleton too): they vanish inside the word.
    CharFold{U'\u02BF', ""}, CharFold{U'\u02BE', ""}, CharFold{U'\u02BC', ""},
    CharFold{U'\u2019', ""}, CharFold{U'\u2018', ""}, CharFold{U'\'', ""}, CharFold{U'`', ""},
    CharFold{U'\u00B4', ""},
};

constexpr std::array kDroppedRanges = {
    CharRange{U'\u064B', U'\u065F'},  // harakat: fathatan .. wavy hamza below
    CharRange{U'\u0670', U'\u0670'},  // superscript alef
    CharRange{U'\u0640', U'\u0640'},  // tatweel
    CharRange{U'\u0610', U'\u061A'},  // honorific and Quranic signs
    CharRange{U'\u06D6', U'\u06ED'},  // Quranic annotation marks
    CharRange{U'\u200B', U'\u200F'},  // zero-width space/joiners, direction marks
    CharRange{U'\u202A', U'\u202E'},  // bidi embeddings
    CharRange{U'\u2066', U'\u2069'},  // bidi isolates
    CharRange{U'\uFEFF', U'\uFEFF'},  // byte-order mark
};

// Consonant classes. Arabic letters are listed with the Latin spellings that stand for them in
// the common conventions, so both scripts reduce to the same class letter:
//   B  ب پ        b p            T  ت ط ث     t th          J  ج ژ گ      j g dj zh c+vowel
//   H  ح ه        h 7            K  خ ك ق     k q c x kh ck G  غ          gh
//   D  د ض        d              Z  ذ ز ظ     z dh          R  ر          r
//   S  س ص        s              X  ش چ       sh ch sch tch F  ف ڤ        f v ph
//   L  ل          l              M  م         m             N  ن          n
// Vowels, glides and the guttural stops are dropped: ا و ي ء ع and a e i o u y w.
constexpr std::array kPhoneticRules = {
    // Latin, longest spellings first.
    PhoneticRule{"tsch", "X"}, PhoneticRule{"dsch", "J"}, PhoneticRule{"sch", "X"},
    PhoneticRule{"tch", "X"}, PhoneticRule{"sh", "X"}, PhoneticRule{"ch", "X"},
    PhoneticRule{"kh", "K"}, PhoneticRule{"gh", "G"}, PhoneticRule{"th", "T"},
    PhoneticRule{"dh", "Z"}, PhoneticRule{"ph", "F"}, PhoneticRule{"dj", "J"},
    PhoneticRule{"zh", "J"}, PhoneticRule{"ck", "K"}, PhoneticRule{"b", "B"},
    PhoneticRule{"p", "B"}, PhoneticRule{"f", "F"}, PhoneticRule{"v", "F"},
    PhoneticRule{"t", "T"}, PhoneticRule{"d", "D"}, PhoneticRule{"s", "S"},
    PhoneticRule{"z", "Z"}, PhoneticRule{"k", "K"}, PhoneticRule{"q", "K"},
    // Kurdish and Turkish Latin write ج as c (Cemîl, Cuma); before a vowel c is read so.
    PhoneticRule{"ca", "J"}, PhoneticRule{"ce", "J"}, PhoneticRule{"ci", "J"},
    PhoneticRule{"co", "J"}, PhoneticRule{"cu", "J"},
    // A single g is ج in English and Egyptian practice (Gamal, Georges) and گ in Kurdish,
    // which shares the class; غ is written gh.
    PhoneticRule{"c", "K"}, PhoneticRule{"x", "K"}, PhoneticRule{"g", "J"},
    PhoneticRule{"j", "J"}, PhoneticRule{"h", "H"}, PhoneticRule{"l", "L"},
    PhoneticRule{"r", "R"}, PhoneticRule{"m", "M"}, PhoneticRule{"n", "N"},
    PhoneticRule{"a", ""}, PhoneticRule{"e", ""}, PhoneticRule{"i", ""},
    PhoneticRule{"o", ""}, PhoneticRule{"u", ""}, PhoneticRule{"y", ""},
    PhoneticRule{"w", ""},
    // Arabizi (chat alphabet) digits inside Latin words: 7 ح, 5 خ, 9 ق, 6 ط, 8 غ, 3 ع, 2 ء.
    PhoneticRule{"7", "H"}, PhoneticRule{"5", "K"}, PhoneticRule{"9", "K"},
    PhoneticRule{"6", "T"}, PhoneticRule{"8", "G"}, PhoneticRule{"3", ""},
    PhoneticRule{"2", ""},
    // Arabic script (after folding).
    PhoneticRule{"\u0628", "B"}, PhoneticRule{"\u067E", "B"},  // ب پ
    PhoneticRule{"\u062A", "T"}, PhoneticRule{"\u0637", "T"},  // ت ط
    PhoneticRule{"\u062B", "T"},                               // ث
    PhoneticRule{"\u062C", "J"}, PhoneticRule{"\u0698", "J"},  // ج ژ
    PhoneticRule{"\u062D", "H"}, PhoneticRule{"\u0647", "H"},  // ح ه
    PhoneticRule{"\u062E", "K"}, PhoneticRule{"\u0643", "K"},  // خ ك
    PhoneticRule{"\u0642", "K"},                               // ق
    PhoneticRule{"\u063A", "G"}, PhoneticRule{"\u06AF", "J"},  // غ گ
    PhoneticRule{"\u062F", "D"}, PhoneticRule{"\u0636", "D"},  // د ض
    PhoneticRule{"\u0630", "Z"}, PhoneticRule{"\u0632", "Z"},  // ذ ز
    PhoneticRule{"\u0638", "Z"},                               // ظ
    PhoneticRule{"\u0631", "R"},                               // ر
    PhoneticRule{"\u0633", "S"}, PhoneticRule{"\u0635", "S"},  // س ص
    PhoneticRule{"\u0634", "X"}, PhoneticRule{"\u0686", "X"},  // ش چ
    PhoneticRule{"\u0641", "F"}, PhoneticRule{"\u06A4", "F"},  // ف ڤ
    PhoneticRule{"\u0644", "L"}, PhoneticRule{"\u0645", "M"},  // ل م
    PhoneticRule{"\u0646", "N"},                               // ن
    PhoneticRule{"\u0627", ""}, PhoneticRule{"\u0648", ""},    // ا و
    PhoneticRule{"\u064A", ""}, PhoneticRule{"\u0621", ""},    // ي ء
    PhoneticRule{"\u0639", ""},                                // ع
};

constexpr std::array<std::string_view, 7> kArticleVowels = {"a", "e", "i", "o", "u",
                                                            "\u0627", "\u0639"};
// Latin spellings of the Arabic sun letters (the article assimilates to them: ar-, as-, ash-).
constexpr std::array<std::string_view, 11> kSunLetters = {"t", "th", "d", "dh", "r", "z",
                                                          "s", "sh", "l", "n", "zh"};
constexpr std::array<std::string_view, 6> kArticles = {"al", "el", "ul", "il", "ol", "\u0627\u0644"};
// Longest first: a joined word is split at the first prefix that matches.
constexpr std::array<std::string_view, 6> kCompoundPrefixes = {
    "\u0639\u0628\u062F",  // عبد
    "\u0627\u0628\u0648",  // ابو
    "abd", "abu", "abou", "abo"};
constexpr std::array<std::string_view, 11> kCompoundSuffixes = {
    "\u0627\u0644\u062F\u064A\u0646",  // الدين
    "eddine", "eddin", "uddin", "uddine", "addin", "addine", "aldin", "aldine", "eldin", "eldine"};
constexpr std::array kAbbreviations = {
    Abbreviation{"mhd", "muhammad"}, Abbreviation{"mohd", "muhammad"},
    Abbreviation{"muhd", "muhammad"}, Abbreviation{"mhmd", "muhammad"},
};

constexpr std::array<std::string_view, 24> kPlaceStopwords = {
    "city", "town", "village", "district", "governorate", "province", "region", "camp",
    "ville", "madinat", "madinah", "mohafazat", "muhafazat", "qaryat",
    "\u0645\u062F\u064A\u0646\u0647",      // مدينه (folded مدينة)
    "\u0628\u0644\u062F\u0647",            // بلده
    "\u0642\u0631\u064A\u0647",            // قريه
    "\u0645\u062D\u0627\u0641\u0638\u0647",  // محافظه
    "\u0645\u0646\u0637\u0642\u0647",      // منطقه
    "\u0646\u0627\u062D\u064A\u0647",      // ناحيه
    "\u0645\u062E\u064A\u0645",            // مخيم
    "\u0642\u0636\u0627\u0621",            // قضاء
    "\u062D\u064A",                        // حي
    "\u0628\u0644\u062F\u0629"};           // بلدة (unfolded spelling, harmless)

// Governorate capitals and towns of Syria whose names differ by more than spelling (European
// exonyms, Kurdish names). A deployment elsewhere extends this table.
constexpr std::array<std::string_view, 5> kAleppo = {"halab", "aleppo", "alep", "haleb",
                                                     "\u062D\u0644\u0628"};
// Al-Sham: what Syrians commonly call Damascus.
constexpr std::array<std::string_view, 7> kDamascus = {
    "dimashq", "damascus", "damas", "damaskus", "\u062F\u0645\u0634\u0642", "al-sham",
    "\u0627\u0644\u0634\u0627\u0645"};
constexpr std::array<std::string_view, 6> kLatakia = {
    "al-ladhiqiyah", "latakia", "lattakia", "lattaquie", "latakieh",
    "\u0627\u0644\u0644\u0627\u0630\u0642\u064A\u0647"};
constexpr std::array<std::string_view, 4> kHoms = {"hims", "homs", "emesa", "\u062D\u0645\u0635"};
constexpr std::array<std::string_view, 5> kKobani = {
    "ayn al-arab", "kobani", "kobane", "kobanî",
    "\u0639\u064A\u0646 \u0627\u0644\u0639\u0631\u0628"};
constexpr std::array<std::string_view, 4> kRasAlAyn = {
    "ras al-ayn", "serekaniye", "serêkaniyê", "\u0631\u0627\u0633 \u0627\u0644\u0639\u064A\u0646"};
constexpr std::array<std::string_view, 4> kTallAbyad = {
    "tall abyad", "gire spi", "girê spî", "\u062A\u0644 \u0627\u0628\u064A\u0636"};
constexpr std::array<std::string_view, 4> kQamishli = {
    "qamishli", "qamishlo", "kamishli", "\u0627\u0644\u0642\u0627\u0645\u0634\u0644\u064A"};
constexpr std::array<std::string_view, 3> kManbij = {"manbij", "minbic",
                                                     "\u0645\u0646\u0628\u062C"};
constexpr std::array<std::string_view, 4> kTartus = {"tartus", "tartous", "tortosa",
                                                     "\u0637\u0631\u0637\u0648\u0633"};
constexpr std::array<std::string_view, 4> kDeirEzZor = {
    "dayr al-zawr", "deir ez-zor", "deir ezzor", "\u062F\u064A\u0631 \u0627\u0644\u0632\u0648\u0631"};

const std::array kPlaceAliases = {
    PlaceAliases{kAleppo},   PlaceAliases{kDamascus},   PlaceAliases{kLatakia},
    PlaceAliases{kHoms},     PlaceAliases{kKobani},     PlaceAliases{kRasAlAyn},
    PlaceAliases{kTallAbyad}, PlaceAliases{kQamishli}, PlaceAliases{kManbij},
    PlaceAliases{kTartus},   PlaceAliases{kDeirEzZor},
};

}  // namespace

std::span<const CharFold> char_folds() { return kCharFolds; }
std::span<const CharRange> dropped_ranges() { return kDroppedRanges; }
constexpr std::array kArabicLongVowels = {
    VowelledMark{"\u0627", 'a'},  // ا (alef variants are folded to it)
    VowelledMark{"\u0648", 'u'},  // و
    VowelledMark{"\u064A", 'i'},  // ي (ى and ئ are folded to it)
};
constexpr std::array kArabicDroppedConsonants = {
    VowelledMark{"\u0639", 'E'},  // ع
};

std::span<const PhoneticRule> phonetic_rules() { return kPhoneticRules; }
std::span<const VowelledMark> arabic_long_vowels() { return kArabicLongVowels; }
std::span<const VowelledMark> arabic_dropped_consonants() { return kArabicDroppedConsonants; }
std::span<const std::string_view> article_vowels() { return kArticleVowels; }
std::span<const std::string_view> sun_letters() { return kSunLetters; }
std::span<const std::string_view> articles() { return kArticles; }
std::span<const std::string_view> compound_prefixes() { return kCompoundPrefixes; }
std::span<const std::string_view> compound_suffixes() { return kCompoundSuffixes; }
std::span<const Abbreviation> abbreviations() { return kAbbreviations; }
std::span<const std::string_view> place_stopwords() { return kPlaceStopwords; }
std::span<const PlaceAliases> place_aliases() { return kPlaceAliases; }

}  // namespace jisr::match::tables
