// libFuzzer target for the agreement loader: any bytes through YamlSource::from_string and
// compile_agreement_file must give an agreement or diagnostics, never a crash, hang or
// sanitizer report. When an agreement compiles, its embedded tests are run too (decide() on
// fuzzer-chosen records). Built only with -DJISR_FUZZ=ON; also a plain translation unit.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/core/record_schema.hpp"
#include "node/core/yaml_source.hpp"
#include "policies/compiler.hpp"
#include "policies/embedded_tests.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto src = jisr::YamlSource::from_string(text, "fuzz.yaml");
  auto compiled = jisr::policies::compile_agreement_file(src, jisr::RecordSchema::missing_person());
  if (compiled) {
    (void)jisr::policies::run_embedded_tests(compiled.value());
    (void)compiled.value().agreement.version();
  } else {
    (void)compiled.error().what.size();
  }
  return 0;
}
