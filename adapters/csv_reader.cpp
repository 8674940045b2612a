#include "adapters/csv_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

namespace jisr::adapters {
namespace {
constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHigh = 0x8080808080808080ULL;
// The word tricks below read eight bytes with memcpy and take byte 0 as the lowest.
static_assert(std::endian::native == std::endian::little);

// 0x80 in every byte of v that is zero (exact, also above the first zero byte).
constexpr uint64_t zero_bytes(uint64_t v) { return ~(((v & ~kHigh) + ~kHigh) | v) & kHigh; }
}  // namespace

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto cont = [](unsigned char b) { return (b & 0xc0) == 0x80; };
  while (p < end) {
    // Fast path, eight bytes at a time, while the text is ASCII and two-byte sequences (ids,
    // dates, Latin and Arabic names): one lead byte 110xxxxx (not the overlong C0, C1) right
    // before each continuation byte 10xxxxxx and nowhere else. Anything else (a longer
    // sequence, an error) drops to the byte-wise path below, which decides it exactly.
    uint64_t carry = 0;  // 0x80 when the previous word ended in a lead byte
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      const uint64_t high = w & kHigh;
      if (high == 0 && carry == 0) {
        p += 8;
        continue;
      }
      const uint64_t bit6 = (w << 1) & kHigh;
      const uint64_t bit5 = (w << 2) & kHigh;
      const uint64_t lead = high & bit6;
      if (lead & bit5) break;                            // 1110xxxx or above
      if (lead & zero_bytes(w & (kOnes * 0x1e))) break;  // C0 or C1
      if ((high & ~bit6) != ((lead << 8) | carry)) break;
      carry = lead >> 56;
      p += 8;
    }
    if (carry) --p;  // start again at the lead byte the word boundary split from its sequence
    if (p == end) break;
    // One code point, one branch per lead byte (the ranges of RFC 3629's table): the second
    // byte's range rules out overlongs, surrogates and code points over U+10FFFF.
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
    } else if (c < 0xc2) {
      return false;  // a continuation byte, or an overlong two-byte lead
    } else if (c < 0xe0) {
      if (end - p < 2 || !cont(p[1])) return false;
      p += 2;
    } else if (c < 0xf0) {
      if (end - p < 3) return false;
      const unsigned char b = p[1];
      const bool ok = c == 0xe0   ? (b >= 0xa0 && b <= 0xbf)
                      : c == 0xed ? (b >= 0x80 && b <= 0x9f)
                                  : cont(b);
      if (!ok || !cont(p[2])) return false;
      p += 3;
    } else if (c < 0xf5) {
      if (end - p < 4) return false;
      const unsigned char b = p[1];
      const bool ok = c == 0xf0   ? (b >= 0x90 && b <= 0xbf)
                      : c == 0xf4 ? (b >= 0x80 && b <= 0x8f)
                                  : cont(b);
      if (!ok || !cont(p[2]) || !cont(p[3])) return false;
      p += 4;
    } else {
      return false;
    }
  }
  return true;
}

CsvReader::CsvReader(Source source, CsvOptions options)
    : source_(std::move(source)), options_(options) {}

CsvReader CsvReader::from_string(std::string text, CsvOptions options) {
  auto data = std::make_shared<std::string>(std::move(text));
  auto offset = std::make_shared<size_t>(0);
  return CsvReader(
      [data, offset](char* buf, size_t max) -> Result<size_t> {
        const size_t n = std::min(max, data->size() - *offset);
        std::memcpy(buf, data->data() + *offset, n);
        *offset += n;
        return n;
      },
      options);
}

Result<bool> CsvReader::fill(size_t keep, size_t& dropped) {
  dropped = 0;
  if (eof_) return false;
  // Drop what is no longer needed once it is most of the data (so the bytes moved never
  // exceed the bytes dropped).
  if (keep > 0 && keep >= filled_ / 2) {
    std::memmove(buf_.data(), buf_.data() + keep, filled_ - keep);
    filled_ -= keep;
    pos_ -= keep;
    dropped_ += keep;
    dropped = keep;
  }
  // buf_ only grows (past filled_ it is room, not data), so a source that returns short reads
  // (a pipe) does not have a whole chunk zeroed again for each one.
  if (buf_.size() < filled_ + kChunk) buf_.resize(filled_ + kChunk);
  auto n = source_(buf_.data() + filled_, kChunk);
  if (!n) return n.error();
  filled_ += n.value();
  if (n.value() == 0) eof_ = true;
  return n.value() > 0;
}

Result<std::optional<CsvRow>> CsvReader::next() {
  CsvRowView view;
  JISR_TRY(auto any, next(view));
  if (!any) return std::optional<CsvRow>();
  CsvRow row;
  row.line = view.line;
  row.fields.assign(view.fields.begin(), view.fields.end());
  row.error = std::move(view.error);
  return std::optional<CsvRow>(std::move(row));
}

Result<bool> CsvReader::next(CsvRowView& row) {
  size_t dropped = 0;
  // Skip the UTF-8 BOM once, at the very start.
  if (!started_) {
    started_ = true;
    while (filled_ - pos_ < 3 && !eof_) {
      JISR_TRY(auto more, fill(pos_, dropped));
      if (!more) break;
    }
    if (filled_ - pos_ >= 3 && buf_.compare(pos_, 3, "\xEF\xBB\xBF") == 0) pos_ += 3;
  }
  while (pos_ >= filled_) {
    JISR_TRY(auto more, fill(pos_, dropped));
    if (!more) return false;
  }

  row.line = line_;
  row.error.reset();
  row.fields.clear();
  spans_.clear();
  // The row stays in the buffer until it is complete, so its fields can be views. Offsets in
  // spans_ are relative to row_begin, which moves when fill() drops bytes before it. A row
  // that is already bad needs none of its bytes, so it never holds the buffer.
  size_t row_begin = pos_;
  const auto more_input = [&]() -> Result<bool> {
    JISR_TRY(auto more, fill(row.error ? pos_ : row_begin, dropped));
    row_begin = row_begin >= dropped ? row_begin - dropped : 0;
    return more;
  };
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kAfterQuote };
  State state = State::kFieldStart;
  FieldSpan field;
  size_t field_bytes = 0;  // decoded length of the current field so far
  const char delim = options_.delimiter;
  const auto fail = [&](std::string msg) {
    if (!row.error) row.error = std::move(msg);
  };
  const auto start_field = [&](size_t at) {
    field = FieldSpan{at - row_begin, at - row_begin, false};
    field_bytes = 0;
  };
  const auto grow = [&](size_t n) {
    field_bytes += n;
    if (field_bytes > options_.max_field_bytes && !row.error) {
      fail(fmt::format("a field is longer than {} bytes", options_.max_field_bytes));
    }
  };
  const auto end_field = [&] {
    if (row.error) return;  // a bad row's fields are not kept
    if (spans_.size() >= options_.max_columns) {
      fail(fmt::format("more than {} columns", options_.max_columns));
      return;
    }
    spans_.push_back(field);
  };
  // After a row's line break: a CR may be followed by its LF.
  const auto end_line = [&](char ch) -> Result<void> {
    ++line_;
    if (ch != '\r') return ok();
    if (pos_ == filled_) {
      JISR_TRY(auto more, more_input());
      if (!more) return ok();
    }
    if (buf_[pos_] == '\n') ++pos_;
    return ok();
  };
  // 0x80 in each byte of w that is a delimiter, LF or CR.
  const uint64_t delims = kOnes * static_cast<unsigned char>(delim);
  const auto specials = [&](uint64_t w) {
    return zero_bytes(w ^ delims) | zero_bytes(w ^ (kOnes * '\n')) | zero_bytes(w ^ (kOnes * '\r'));
  };

  for (;;) {
    if (pos_ == filled_) {
      JISR_TRY(auto more, more_input());
      if (!more) {  // the end of input ends the row
        switch (state) {
          case State::kQuoted:
            fail("a quoted field is not closed before the end of the file");
            break;
          case State::kQuoteInQuoted:  // the quote just read closed the field
            field.end = pos_ - 1 - row_begin;
            end_field();
            break;
          case State::kFieldStart:
            start_field(pos_);
            end_field();
            break;
          case State::kUnquoted:
            field.end = pos_ - row_begin;
            end_field();
            break;
          case State::kAfterQuote:
            end_field();
            break;
        }
        break;
      }
      continue;
    }
    const char* data = buf_.data();
    const size_t size = filled_;
    if (state == State::kFieldStart) {
      if (data[pos_] == '"') {
        ++pos_;
        start_field(pos_);
        state = State::kQuoted;
        continue;
      }
      start_field(pos_);
      state = State::kUnquoted;
    }
    if (state == State::kUnquoted) {
      // Plain characters up to a delimiter or line break; a quote inside an unquoted field is
      // kept as a literal character (common in exports).
      size_t q = pos_;
      for (;;) {
        if (size - q < 8) {
          while (q < size && data[q] != delim && data[q] != '\n' && data[q] != '\r') ++q;
          break;
        }
        uint64_t w;
        std::memcpy(&w, data + q, 8);
        if (const uint64_t m = specials(w)) {
          q += static_cast<size_t>(std::countr_zero(m)) / 8;
          break;
        }
        q += 8;
      }
      grow(q - pos_);
      pos_ = q;
      if (q == size) continue;
      const char ch = data[pos_++];
      field.end = q - row_begin;
      end_field();
      if (ch == delim) {
        state = State::kFieldStart;
        continue;
      }
      JISR_TRY(end_line(ch));
      break;
    }
    if (state == State::kQuoted) {
      // Everything up to the next quote is field content, line breaks included.
      const char* begin = data + pos_;
      const auto* q = static_cast<const char*>(std::memchr(begin, '"', size - pos_));
      if (!q) q = data + size;
      line_ += static_cast<uint64_t>(std::count(begin, q, '\n'));
      grow(static_cast<size_t>(q - begin));
      pos_ = static_cast<size_t>(q - data);
      if (pos_ == size) continue;
      ++pos_;
      state = State::kQuoteInQuoted;
      continue;
    }
    if (state == State::kQuoteInQuoted) {
      if (data[pos_] == '"') {  // a doubled quote is one quote character
        ++pos_;
        grow(1);
        field.unescape = true;
        state = State::kQuoted;
        continue;
      }
      field.end = pos_ - 1 - row_begin;
      state = State::kAfterQuote;
    }
    // kAfterQuote: a quoted field ended; only a delimiter or a line break may follow.
    const char ch = data[pos_++];
    if (ch == delim) {
      end_field();
      state = State::kFieldStart;
      continue;
    }
    if (ch == '\n' || ch == '\r') {
      end_field();
      JISR_TRY(end_line(ch));
      break;
    }
    fail("text after a closing quote (a quote inside a field must be doubled)");
  }

  if (row.error) return true;
  // Checking the row's bytes checks every field: fields are cut at ASCII bytes (delimiters,
  // quotes, line breaks), which are never part of a multi-byte sequence.
  char* base = buf_.data() + row_begin;
  if (!is_valid_utf8(std::string_view(base, pos_ - row_begin))) {
    fail("invalid UTF-8");
    return true;
  }
  for (const auto& f : spans_) {
    char* begin = base + f.begin;
    size_t len = f.end - f.begin;
    if (f.unescape) {
      // The row is consumed, so its bytes can be rewritten: each "" becomes ".
      char* out = begin;
      for (size_t i = 0; i < len; ++i) {
        *out++ = begin[i];
        if (begin[i] == '"') ++i;
      }
      len = static_cast<size_t>(out - begin);
    }
    row.fields.emplace_back(begin, len);
  }
  return true;
}

}  // namespace jisr::adapters
