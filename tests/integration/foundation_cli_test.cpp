// The foundation commands as a user runs them: init, import, records, exit codes, messages.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sys/stat.h>

#include "tests/test_support.hpp"

using namespace jisr::testing;

namespace {
std::string demo(const std::string& name) { return (source_dir() / "deploy" / "demo" / name).string(); }

std::set<std::string> distinct_first_column(const std::filesystem::path& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  std::set<std::string> ids;
  while (std::getline(in, line)) ids.insert(line.substr(0, line.find(',')));
  return ids;
}
}  // namespace

TEST_CASE("init creates a node home and refuses bad input", "[cli][init]") {
  TempDir tmp;
  const auto home = (tmp / "node").string();
  auto r = run_jisr({"init", "--org", "mpfp", "--dir", home, "--listen", "127.0.0.1:0"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("initialised node 'mpfp'") != std::string::npos);
  CHECK(r.out.find("CA fingerprint:  SHA256:") != std::string::npos);
  for (const char* f : {"node.yaml", "schema.yaml", "pki/ca.pem", "pki/ca.key", "pki/node.pem",
                        "pki/node.key", "pki/sign.key", "pki/sign.pub", "data", "policies", "peers"}) {
    CHECK(std::filesystem::exists(tmp / "node" / f));
  }
  for (const char* key : {"pki/ca.key", "pki/node.key", "pki/sign.key"}) {
    struct stat st{};
    REQUIRE(::stat((tmp / "node" / key).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  SECTION("an existing non-empty directory is refused") {
    auto again = run_jisr({"init", "--org", "mpfp", "--dir", home});
    CHECK(again.exit_code == 1);
    CHECK(again.err == "jisr: error: directory exists and is not empty (" + home + ")\n");
  }
  SECTION("a bad org id is a usage error") {
    auto bad = run_jisr({"init", "--org", "Bad Org", "--dir", (tmp / "x").string()});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.rfind("jisr: error: --org must be", 0) == 0);
    CHECK_FALSE(std::filesystem::exists(tmp / "x"));
  }
  SECTION("--json prints the fingerprint") {
    auto j = run_jisr({"init", "--org", "iimp", "--dir", (tmp / "j").string(), "--json"});
    CHECK(j.exit_code == 0);
    CHECK(j.out.find("\"ca_fingerprint\": \"SHA256:") != std::string::npos);
  }
}

TEST_CASE("usage errors exit 2 with one line", "[cli]") {
  auto none = run_jisr({});
  CHECK(none.exit_code == 2);
  auto unknown = run_jisr({"frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.rfind("jisr: error: ", 0) == 0);
  CHECK(std::count(unknown.err.begin(), unknown.err.end(), '\n') == 1);
  auto missing_dir = run_jisr({"records", "count"});
  CHECK(missing_dir.exit_code == 2);
  auto version = run_jisr({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("jisr ", 0) == 0);
  auto help = run_jisr({"import", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--mapping") != std::string::npos);
}

TEST_CASE("commands on a directory that is not a node home fail clearly", "[cli]") {
  TempDir tmp;
  auto r = run_jisr({"records", "count", "--dir", tmp.path().string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "jisr: error: not a node home (run `jisr init` first) (" +
                     (tmp.path() / "node.yaml").string() + ")\n");
}

TEST_CASE("import, re-import, dry run, records", "[cli][import]") {
  TempDir tmp;
  const auto home = (tmp / "p").string();
  REQUIRE(run_jisr({"init", "--org", "mpfp", "--dir", home}).exit_code == 0);
  auto r = run_jisr({"import", "--dir", home, "--mapping", demo("platform-reports.mapping.yaml"),
                     demo("platform-reports.csv")});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "imported 8, updated 0, unchanged 0, rejected 0\n");
  CHECK(r.err.empty());
  auto again = run_jisr({"import", "--dir", home, "--mapping", demo("platform-reports.mapping.yaml"),
                         demo("platform-reports.csv"), "--json"});
  CHECK(again.out.find("\"unchanged\": 8") != std::string::npos);
  CHECK(run_jisr({"records", "count", "--dir", home}).out == "8\n");
  auto list = run_jisr({"records", "list", "--dir", home, "--limit", "2"});
  CHECK(list.out.find("D-P001") != std::string::npos);
  CHECK(list.out.find("(more: --after D-P002)") != std::string::npos);
  // list never shows field values
  CHECK(list.out.find("أحمد") == std::string::npos);
  auto show = run_jisr({"records", "show", "--dir", home, "D-P001", "--json"});
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("\"consent_share_iimp\": \"yes\"") != std::string::npos);
  auto missing = run_jisr({"records", "show", "--dir", home, "nope"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "jisr: error: no such record (nope)\n");

  SECTION("bad rows are reported by line and skipped; dry run writes nothing") {
    write_text(tmp / "bad.csv",
               "report_id,given_name,father_name,grandfather_name,family_name,mother_name,sex,"
               "birth_date,age_at_disappearance,birth_place,missing_date,missing_place,national_id,"
               "circumstances,reporter_phone,consent_share_iimp\n"
               "N1,a,b,c,d,e,ذكر,1990-13-01,,,,,,,,yes\n"
               "N2,a,b,c,d,e,ذكر,1990,,,,,,,,maybe\n"
               "N3,a,b\n"
               "N4,a,b,c,d,e,ذكر,1990,,,,,,,,yes\n");
    auto dry = run_jisr({"import", "--dir", home, "--mapping", demo("platform-reports.mapping.yaml"),
                         (tmp / "bad.csv").string(), "--dry-run"});
    CHECK(dry.exit_code == 0);
    CHECK(dry.out == "dry run (nothing written): imported 1, updated 0, unchanged 0, rejected 3\n");
    CHECK(dry.err.find("field 'birth_date' is not a date") != std::string::npos);
    CHECK(dry.err.find("bad.csv:2)") != std::string::npos);
    CHECK(dry.err.find("field 'consent_share_iimp' has a value outside its list") != std::string::npos);
    CHECK(dry.err.find("3 columns, the header has 16") != std::string::npos);
    CHECK(run_jisr({"records", "count", "--dir", home}).out == "8\n");
  }
  SECTION("a mapping naming a column the file lacks is refused with the mapping line") {
    write_text(tmp / "m.yaml", "id: report_id\nfields:\n  given_name: nom\n");
    auto bad = run_jisr({"import", "--dir", home, "--mapping", (tmp / "m.yaml").string(),
                         demo("platform-reports.csv")});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err == "jisr: error: " + (tmp / "m.yaml").string() +
                         ":3: the file has no column 'nom' (" + demo("platform-reports.csv") + ")\n");
  }
  SECTION("a missing file") {
    auto bad = run_jisr({"import", "--dir", home, "--mapping", demo("platform-reports.mapping.yaml"),
                         (tmp / "none.csv").string()});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("No such file or directory") != std::string::npos);
  }
}

TEST_CASE("arabic-dev: whole files import, counts equal distinct ids, re-import is a no-op",
          "[cli][import][data]") {
  const auto data = shared_data_dir() / "arabic-dev";
  if (!std::filesystem::exists(data / "a.csv")) {
    WARN("shared data not found at " << data << "; skipped");
    return;
  }
  TempDir tmp;
  struct Case {
    const char* org;
    const char* file;
    const char* mapping;
  };
  for (const Case c : {Case{"mpfp", "a.csv", "platform-reports.mapping.yaml"},
                       Case{"iimp", "b.csv", "institution-cases.mapping.yaml"}}) {
    const auto home = (tmp / c.org).string();
    REQUIRE(run_jisr({"init", "--org", c.org, "--dir", home}).exit_code == 0);
    const auto ids = distinct_first_column(data / c.file);
    auto r = run_jisr({"import", "--dir", home, "--mapping", demo(c.mapping), (data / c.file).string()});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "imported " + std::to_string(ids.size()) + ", updated 0, unchanged 0, rejected 0\n");
    CHECK(run_jisr({"records", "count", "--dir", home}).out == std::to_string(ids.size()) + "\n");
    auto again = run_jisr({"import", "--dir", home, "--mapping", demo(c.mapping), (data / c.file).string()});
    CHECK(again.out == "imported 0, updated 0, unchanged " + std::to_string(ids.size()) + ", rejected 0\n");
  }
}
