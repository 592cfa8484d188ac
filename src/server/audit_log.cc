#include "server/audit_log.h"

#include <arrow/flight/types.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <unistd.h>

namespace hyprstream::server {
namespace {

constexpr size_t kFlushBytes = 64 * 1024;
constexpr std::chrono::milliseconds kFlushInterval{100};

std::string IsoTime(std::chrono::system_clock::time_point time) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return text;
}

// The code a client sees: the Flight code when there is one, else Arrow's.
std::string OutcomeCode(const arrow::Status& status) {
  if (status.ok()) return "ok";
  if (auto detail = arrow::flight::FlightStatusDetail::UnwrapStatus(status)) {
    switch (detail->code()) {
      case arrow::flight::FlightStatusCode::Unauthenticated:
        return "UNAUTHENTICATED";
      case arrow::flight::FlightStatusCode::Unauthorized:
        return "PERMISSION_DENIED";
      case arrow::flight::FlightStatusCode::Unavailable:
        return "UNAVAILABLE";
      case arrow::flight::FlightStatusCode::Cancelled:
        return "CANCELLED";
      case arrow::flight::FlightStatusCode::TimedOut:
        return "DEADLINE_EXCEEDED";
      default:
        return "INTERNAL";
    }
  }
  switch (status.code()) {
    case arrow::StatusCode::Invalid:
      return "INVALID_ARGUMENT";
    case arrow::StatusCode::KeyError:
      return "NOT_FOUND";
    case arrow::StatusCode::AlreadyExists:
      return "ALREADY_EXISTS";
    case arrow::StatusCode::NotImplemented:
      return "UNIMPLEMENTED";
    case arrow::StatusCode::Cancelled:
      return "CANCELLED";
    default:
      return "INTERNAL";
  }
}

// Cuts at a UTF-8 character boundary.
std::string Cut(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

}  // namespace

arrow::Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return arrow::Status::IOError("cannot open audit log ", path, ": ", std::strerror(errno));
  }
  std::FILE* file = ::fdopen(fd, "a");
  if (file == nullptr) {
    ::close(fd);
    return arrow::Status::IOError("cannot open audit log ", path, ": ", std::strerror(errno));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(file));
}

AuditLog::AuditLog(std::FILE* file) : file_(file) {
  writer_ = std::thread([this] { FlushLoop(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  writer_.join();
  std::fclose(file_);
}

std::string AuditLog::Format(const AuditEntry& entry) {
  nlohmann::ordered_json line;
  line["time"] = IsoTime(entry.time);
  line["user"] = entry.user;
  line["role"] = entry.role;
  line["peer"] = entry.peer;
  line["rpc"] = entry.rpc;
  line["command"] = entry.command;
  line["sql"] = Cut(entry.sql, kMaxSqlChars);
  line["outcome"] = OutcomeCode(entry.outcome);
  line["message"] = entry.outcome.ok() ? "" : Cut(entry.outcome.message(), 500);
  if (entry.refused.empty()) {
    line["refused"] = nullptr;
  } else {
    line["refused"] = Cut(entry.refused, 500);
  }
  if (entry.rows >= 0) {
    line["rows"] = entry.rows;
  } else {
    line["rows"] = nullptr;
  }
  line["duration_ms"] = std::chrono::duration<double, std::milli>(entry.duration).count();
  // Invalid UTF-8 in SQL must not make the line unwritable.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void AuditLog::Write(const AuditEntry& entry) {
  std::string line = Format(entry);
  bool flush_now = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    buffer_ += line;
    flush_now = buffer_.size() >= kFlushBytes;
  }
  if (flush_now) wakeup_.notify_one();
}

void AuditLog::FlushLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wakeup_.wait_for(lock, kFlushInterval,
                     [this] { return stopping_ || buffer_.size() >= kFlushBytes; });
    std::string pending;
    pending.swap(buffer_);
    const bool stop = stopping_;
    lock.unlock();
    if (!pending.empty()) {
      if (std::fwrite(pending.data(), 1, pending.size(), file_) != pending.size() ||
          std::fflush(file_) != 0) {
        spdlog::error("audit log write failed: {}", std::strerror(errno));
      }
    }
    if (stop) return;
    lock.lock();
  }
}

}  // namespace hyprstream::server
