// Clock: the node's only source of the current time (STYLE.md 3). Production passes a
// SystemClock; tests pass a FakeClock they move by hand. Thread-safety: SystemClock is
// stateless; FakeClock is safe to read from many threads while one thread sets it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace jisr {

using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : ms_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(std::chrono::milliseconds(ms_.load())); }
  void set(TimePoint t) { ms_ = t.time_since_epoch().count(); }
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<int64_t> ms_;
};

// "2026-11-29T10:00:00.123Z"
std::string format_utc(TimePoint t);
// Milliseconds since the Unix epoch.
inline int64_t to_unix_ms(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint from_unix_ms(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

}  // namespace jisr
