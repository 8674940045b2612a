#include "node/core/bytes.hpp"

namespace jisr {

void append_varint(std::string& out, uint64_t v) {
  char buf[10];
  out.append(buf, static_cast<size_t>(write_varint(buf, v) - buf));
}

void append_bytes(std::string& out, std::string_view s) {
  append_varint(out, s.size());
  out.append(s);
}

void ByteWriter::varint(uint64_t v) { append_varint(out_, v); }

void ByteWriter::bytes(std::string_view s) { append_bytes(out_, s); }

std::optional<uint64_t> ByteReader::long_varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= in_.size()) return std::nullopt;
    const auto b = static_cast<uint8_t>(in_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return std::nullopt;
}

std::optional<std::string_view> ByteReader::raw(size_t n) {
  if (n > in_.size() - pos_) return std::nullopt;
  auto out = in_.substr(pos_, n);
  pos_ += n;
  return out;
}

std::string be64_key(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

std::optional<uint64_t> parse_be64_key(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (char c : key) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace jisr
