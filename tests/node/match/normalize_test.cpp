#include "node/match/normalize.hpp"

#include <catch2/catch.hpp>

using namespace jisr::match;

TEST_CASE("fold_text applies every Arabic folding rule", "[match][normalize]") {
  SECTION("harakat and tatweel are stripped") {
    CHECK(fold_text("مُحَمَّد") == "محمد");
    CHECK(fold_text("محـــمد") == "محمد");
  }
  SECTION("hamza and alef variants fold to bare alef") {
    CHECK(fold_text("أحمد") == "احمد");
    CHECK(fold_text("إبراهيم") == "ابراهيم");
    CHECK(fold_text("آمنة") == "امنه");
    CHECK(fold_text("ٱلله") == "الله");
  }
  SECTION("alef maqsura, ta marbuta, hamza on waw and ya") {
    CHECK(fold_text("مصطفى") == "مصطفي");
    CHECK(fold_text("فاطمة") == "فاطمه");
    CHECK(fold_text("فؤاد") == "فواد");
    CHECK(fold_text("عائشة") == "عايشه");
  }
  SECTION("Persian and Kurdish keyboard letters") {
    CHECK(fold_text("علی") == "علي");
    CHECK(fold_text("کمال") == "كمال");
    CHECK(fold_text("فاطمە") == "فاطمه");
  }
  SECTION("Arabic-Indic and Persian digits") {
    CHECK(fold_text("٠١٢٣٤٥٦٧٨٩") == "0123456789");
    CHECK(fold_text("۱۲۳") == "123");
  }
  SECTION("NFKC: presentation forms and ligatures") {
    CHECK(fold_text("ﻻ") == "لا");
    CHECK(fold_text("ﬁras") == "firas");
  }
}

TEST_CASE("fold_text folds Latin case, diacritics and punctuation", "[match][normalize]") {
  CHECK(fold_text("MOHAMMED") == "mohammed");
  CHECK(fold_text("Şêrko") == "sherko");
  CHECK(fold_text("Luqmān") == "luqman");
  CHECK(fold_text("Al-Zuʿbī") == "al-zubi");
  CHECK(fold_text("Fou'ad") == "fouad");
  CHECK(fold_text("  Abd   al-Rahman ") == "abd al-rahman");
  CHECK(fold_text("Hims - Khalidiya") == "hims,khalidiya");
  CHECK(fold_text("Haffeh, Latakia") == "haffeh,latakia");
  CHECK(fold_text("حماه - مصياف") == "حماه,مصياف");
  CHECK(fold_text("Straße") == "strasse");
  CHECK(fold_text("") == "");
  CHECK(fold_text("\xff\xfe") == "");  // invalid UTF-8 becomes U+FFFD, not a letter
}

TEST_CASE("name_words handles compounds, articles and abbreviations", "[match][normalize]") {
  using V = std::vector<std::string>;
  CHECK(name_words("عبدالرحمن") == V{"عبد", "الرحمن"});
  CHECK(name_words("عبد الرحمن") == V{"عبد", "الرحمن"});
  CHECK(name_words("Abdulrahman") == V{"abd", "ulrahman"});
  CHECK(name_words("Abdul Rahman") == V{"abd", "rahman"});
  CHECK(name_words("Abd al-Rahman") == V{"abd", "rahman"});
  CHECK(name_words("Mhd") == V{"muhammad"});
  CHECK(name_words("Al Khalil") == V{"khalil"});
  CHECK(name_words("ابو بكر") == V{"ابو", "بكر"});
  CHECK(name_words("123").empty());
}

TEST_CASE("one phonetic skeleton across scripts", "[match][normalize][phonetic]") {
  SECTION("Muhammad") {
    for (auto v : {"محمد", "Mohammad", "Muhammad", "Mohamed", "Mohammed", "Mhd", "MUHAMMAD"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "MHMD");
    }
  }
  SECTION("Khalid") {
    for (auto v : {"خالد", "Khaled", "Khalid", "Xalid"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "KLD");
    }
  }
  SECTION("Abd al-Rahman") {
    for (auto v : {"عبد الرحمن", "عبدالرحمن", "Abdul Rahman", "Abd al-Rahman", "Abdulrahman",
                   "Abdurrahman", "Abd ar-Rahman", "Abdelrahman"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "BDRHMN");
    }
  }
  SECTION("Sherko (Kurdish)") {
    for (auto v : {"شيركو", "Şêrko", "Sherko", "Chêrko"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "XRK");
    }
  }
  SECTION("articles: ال, al-, el-, joined, assimilated") {
    for (auto v : {"الحسن", "Al-Hasan", "El Hassan", "Alhasan", "al-Ḥasan"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "HSN");
    }
    for (auto v : {"الرفاعي", "Ar-Rifai", "Al-Rifai", "ar Rifaii"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "RF");
    }
    for (auto v : {"الابراهيم", "Alibraahim", "Al-Ibrahim", "ابراهيم", "Ibrahim"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "BRHM");
    }
    // A joined article before a name of one consonant and long vowels.
    for (auto v : {"الأيوبي", "ايوبي", "Al Ayyubi"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "B");
    }
    CHECK(name_skeleton("العيسى") == name_skeleton("عيسى"));
    CHECK(name_skeleton("الاوسو") == name_skeleton("اوسو"));
  }
  SECTION("feminine ending and hamza spellings") {
    for (auto v : {"فاطمة", "فاطمه", "Fatima", "Fatmeh", "Fatimah", "Fatme"}) {
      INFO(v);
      CHECK(name_skeleton(v) == "FTM");
    }
    CHECK(name_skeleton("عبد الله") == name_skeleton("Abdullah"));
    CHECK(name_skeleton("Abdallah") == name_skeleton("عبدالله"));
    CHECK(name_skeleton("Fou'ad") == name_skeleton("فؤاد"));
  }
  SECTION("short names keep their article-like start") {
    CHECK(name_skeleton("Ali") == "L");
    CHECK(name_skeleton("علي") == "L");
    CHECK(name_skeleton("Alaa") == name_skeleton("علاء"));
    CHECK(name_skeleton("Elias") == name_skeleton("الياس"));
  }
  SECTION("different names stay different") {
    CHECK(name_skeleton("Khalid") != name_skeleton("Khalil"));
    CHECK(name_skeleton("Omar") != name_skeleton("Ammar") + "X");
    CHECK(name_skeleton("Yusuf") != name_skeleton("Younes"));
  }
  SECTION("other scripts go through ICU transliteration") {
    CHECK(name_skeleton("Мухаммад") == "MHMD");  // ICU: х -> h
    CHECK_FALSE(name_skeleton("Μαρία").empty());
  }
  SECTION("nothing to match") {
    CHECK(name_skeleton("").empty());
    CHECK(name_skeleton("- , 12").empty());
  }
}

TEST_CASE("first name of several: compounds stay whole", "[match][normalize]") {
  CHECK(first_name_skeleton("فاطمة الحسن") == name_skeleton("Fatima"));
  CHECK(first_name_skeleton("Fatimeh Al Houssayn") == name_skeleton("فاطمة"));
  CHECK(first_name_skeleton("عبد الرحمن خالد") == name_skeleton("Abdulrahman"));
  CHECK(first_name_skeleton("Nour al-Din Haddad") == name_skeleton("نورالدين"));
  CHECK(first_name_skeleton("فاطمة").empty());       // one name: nothing more to say
  CHECK(first_name_skeleton("عبد الرحمن").empty());  // one compound name
  CHECK(first_name_skeleton("").empty());
}

TEST_CASE("vowelled skeleton: Arabic script only, long vowels inside the name", "[match][normalize]") {
  CHECK(name_skeletons("محمود").vowelled == "MHMuD");
  CHECK(name_skeletons("محمد").vowelled == "MHMD");
  CHECK(name_skeletons("حسين").vowelled == "HSiN");
  CHECK(name_skeletons("عامر").vowelled == "EaMR");       // ayn is a consonant in Arabic
  CHECK(name_skeletons("عمار").vowelled == "EMaR");
  CHECK(name_skeletons("أحمد").vowelled == "HMD");         // a leading alef carries a hamza
  CHECK(name_skeletons("سامي").vowelled == "SaM");         // a final vowel does not count
  CHECK(name_skeletons("عبد الرحمن").vowelled == "EBDRHMN");  // the article as in the skeleton
  CHECK(name_skeletons("Mahmoud").vowelled.empty());      // Latin does not mark length
  CHECK(name_skeletons("محمد Ali").vowelled.empty());     // one Latin word: none for the name
  CHECK(name_skeletons("محمود").whole == name_skeleton("Mahmoud"));
}

TEST_CASE("place skeletons: parts, generic words, alternative names", "[match][normalize]") {
  using V = std::vector<std::string>;
  CHECK(place_skeletons("Aleppo") == V{"HLB"});
  CHECK(place_skeletons("Alep") == V{"HLB"});
  CHECK(place_skeletons("حلب") == V{"HLB"});
  CHECK(place_skeletons("Halab") == V{"HLB"});
  CHECK(place_skeletons("مدينة حمص") == V{"HMS"});
  CHECK(place_skeletons("Homs city") == V{"HMS"});
  CHECK(place_skeletons("Hims - Khalidiya") == V{"HMS", "KLD"});
  CHECK(place_skeletons("Lattaquie") == place_skeletons("اللاذقية"));
  CHECK(place_skeletons("Deir ez-Zor") == place_skeletons("دير الزور"));
  CHECK(place_skeletons("Al-Bab") != place_skeletons("Aleppo"));
  CHECK(place_skeletons("").empty());
}

TEST_CASE("ids: digits only, Arabic-Indic digits, leading zeros", "[match][normalize]") {
  CHECK(id_digits("06085521462") == "6085521462");
  CHECK(id_digits("٠٦٠٨٥٥٢١٤٦٢") == "6085521462");
  CHECK(id_digits("6085-521 462") == "6085521462");
  CHECK(id_digits("none").empty());
}
