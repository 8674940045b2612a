// Bounded binary encoding used for values stored in LMDB: LEB128 varints, length-prefixed
// strings, big-endian u64 keys (so LMDB's byte order is numeric order).
// ByteReader never reads past its input; every getter reports failure instead.
// Thread-safety: values; a reader or writer belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jisr {

// The varint writer itself, for encoders that size their output once and write through a
// pointer (record encoding runs for every imported row): bytes varint v takes, and writing it
// at out (room for varint_size(v) bytes), returning the end.
inline size_t varint_size(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}
inline char* write_varint(char* out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) *out++ = static_cast<char>((v & 0x7f) | 0x80);
  *out++ = static_cast<char>(v);
  return out;
}

// Appends to a caller's buffer (writers on hot paths reuse one buffer across records).
void append_varint(std::string& out, uint64_t v);
void append_bytes(std::string& out, std::string_view s);  // varint length, then the bytes

class ByteWriter {
 public:
  void varint(uint64_t v);
  void bytes(std::string_view s);  // varint length, then the bytes
  void raw(std::string_view s) { out_.append(s); }
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  std::string& str() { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  // Always inline, with a one-byte fast path: every stored record and wire record is read
  // through these, a dozen fields each, and a call per length was half of decoding one.
  [[gnu::always_inline]] std::optional<uint64_t> varint() {
    if (pos_ < in_.size() && (static_cast<uint8_t>(in_[pos_]) & 0x80) == 0) {
      return static_cast<uint8_t>(in_[pos_++]);
    }
    return long_varint();
  }
  // A view into the input; valid as long as the input is.
  [[gnu::always_inline]] std::optional<std::string_view> bytes(size_t max_len = 1 << 30) {
    auto len = varint();
    if (!len || *len > max_len || *len > in_.size() - pos_) return std::nullopt;
    const auto out = in_.substr(pos_, *len);
    pos_ += *len;
    return out;
  }
  std::optional<uint8_t> u8() {
    if (pos_ >= in_.size()) return std::nullopt;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  // The next n bytes, as written by ByteWriter::raw() (a view into the input, like bytes()).
  std::optional<std::string_view> raw(size_t n);
  bool at_end() const { return pos_ == in_.size(); }
  // What has not been read yet.
  std::string_view rest() const { return in_.substr(pos_); }

 private:
  std::optional<uint64_t> long_varint();

  std::string_view in_;
  size_t pos_ = 0;
};

// 8 bytes, big-endian: numeric order equals byte order, as LMDB keys need.
std::string be64_key(uint64_t v);
std::optional<uint64_t> parse_be64_key(std::string_view key);

}  // namespace jisr
