#include "adapters/csv_reader.hpp"

#include <fmt/format.h>

#include <cstring>
#include <memory>

namespace jisr::adapters {
namespace {
constexpr size_t kChunk = 1 << 20;
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII runs (ids, dates, digits) eight bytes at a time.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p == end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += extra + 1;
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

Result<bool> CsvReader::fill() {
  if (eof_) return false;
  // Keep the buffer from growing: drop what was consumed once it is most of the buffer.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  const size_t old = buf_.size();
  buf_.resize(old + kChunk);
  auto n = source_(buf_.data() + old, kChunk);
  if (!n) {
    buf_.resize(old);
    return n.error();
  }
  buf_.resize(old + n.value());
  if (n.value() == 0) eof_ = true;
  return n.value() > 0;
}

Result<std::optional<CsvRow>> CsvReader::next() {
  CsvRow row;
  JISR_TRY(auto any, next(row));
  if (!any) return std::optional<CsvRow>();
  return std::optional<CsvRow>(std::move(row));
}

Result<bool> CsvReader::next(CsvRow& row) {
  // Skip the UTF-8 BOM once, at the very start.
  if (!started_) {
    started_ = true;
    while (buf_.size() - pos_ < 3 && !eof_) {
      JISR_TRY(auto more, fill());
      if (!more) break;
    }
    if (buf_.size() - pos_ >= 3 && buf_.compare(pos_, 3, "\xEF\xBB\xBF") == 0) {
      pos_ += 3;
      consumed_ += 3;
    }
  }
  // Makes at least one unread byte available; false at the end of input.
  const auto available = [&]() -> Result<bool> {
    while (pos_ >= buf_.size()) {
      JISR_TRY(auto more, fill());
      if (!more) return false;
    }
    return true;
  };

  JISR_TRY(auto any, available());
  if (!any) return false;

  row.line = line_;
  row.error.reset();
  // Fields are written straight into row.fields[n], reusing the strings of earlier rows.
  size_t n = 0;
  std::string* field = nullptr;  // row.fields[n] once the field has content
  const auto slot = [&]() -> std::string& {
    if (n == row.fields.size()) row.fields.emplace_back();
    std::string& s = row.fields[n];
    s.clear();
    return s;
  };
  bool in_quotes = false;
  bool was_quoted = false;
  bool after_quote = false;  // a quoted field ended; only a delimiter or newline may follow
  const char delim = options_.delimiter;
  const auto set_error = [&](std::string msg) {
    if (!row.error) row.error = std::move(msg);
  };
  const auto push_field = [&] {
    if (row.error) return;
    if (n >= options_.max_columns) {
      set_error(fmt::format("more than {} columns", options_.max_columns));
      return;
    }
    if (!field) slot();  // an empty field
    ++n;
    field = nullptr;
  };
  const auto add = [&](const char* p, size_t len) {
    if (row.error || len == 0) return;
    if (!field) field = &slot();
    if (field->size() + len > options_.max_field_bytes) {
      set_error(fmt::format("a field is longer than {} bytes", options_.max_field_bytes));
      field->clear();
      return;
    }
    field->append(p, len);
  };
  const auto take = [&](size_t count) {
    pos_ += count;
    consumed_ += count;
  };

  for (;;) {
    JISR_TRY(auto more, available());
    if (!more) {
      if (in_quotes) set_error("a quoted field is not closed before the end of the file");
      push_field();
      break;
    }
    const char* begin = buf_.data() + pos_;
    const char* end = buf_.data() + buf_.size();
    if (in_quotes) {
      // Fast path: everything up to the next quote is field content.
      const char* q = begin;
      while (q < end && *q != '"') {
        if (*q == '\n') ++line_;
        ++q;
      }
      add(begin, static_cast<size_t>(q - begin));
      take(static_cast<size_t>(q - begin));
      if (q == end) continue;
      take(1);  // the quote
      JISR_TRY(auto has_next, available());
      if (has_next && buf_[pos_] == '"') {  // a doubled quote is one quote character
        add("\"", 1);
        take(1);
      } else {
        in_quotes = false;
        after_quote = true;
      }
      continue;
    }
    if (!after_quote) {
      // Fast path: plain characters of an unquoted field.
      const char* q = begin;
      while (q < end && *q != delim && *q != '\n' && *q != '\r' && *q != '"') ++q;
      if (q != begin) {
        add(begin, static_cast<size_t>(q - begin));
        take(static_cast<size_t>(q - begin));
        continue;
      }
    }
    const char ch = *begin;
    take(1);
    if (ch == delim) {
      push_field();
      was_quoted = after_quote = false;
      continue;
    }
    if (ch == '\n' || ch == '\r') {
      if (ch == '\r') {
        JISR_TRY(auto has_next, available());
        if (has_next && buf_[pos_] == '\n') take(1);
      }
      ++line_;
      push_field();
      break;
    }
    if (after_quote) {
      set_error("text after a closing quote (a quote inside a field must be doubled)");
      continue;
    }
    if (ch == '"' && (!field || field->empty()) && !was_quoted) {
      in_quotes = was_quoted = true;
      continue;
    }
    // A quote inside an unquoted field is kept as a literal character (common in exports).
    add(&ch, 1);
  }
  row.fields.resize(n);
  if (!row.error) {
    for (const auto& f : row.fields) {
      if (!is_valid_utf8(f)) {
        set_error("invalid UTF-8");
        break;
      }
    }
  }
  return true;
}

}  // namespace jisr::adapters
