// AuditLog: one JSON object per line, per Flight call, in a file of its own: time, user, role,
// peer, rpc, command, sql (cut to 2000 characters), outcome ("ok" or the status code),
// message, refused (another user's handle the call presented, or null), rows, duration_ms. Write
// formats the line and appends it to a memory buffer under a mutex; a writer thread flushes the
// buffer to the file at most 100 ms later (at once when it grows past 64 KiB), so calls never wait
// on disk. Thread-safe. The destructor flushes.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace hyprstream::server {

struct AuditEntry {
  std::chrono::system_clock::time_point time;
  std::string user;
  std::string role;
  std::string peer;
  std::string rpc;
  std::string command;
  std::string sql;
  arrow::Status outcome;
  std::string refused;  // another user's handle the call presented and was refused, if any
  int64_t rows = -1;    // -1: unknown
  std::chrono::steady_clock::duration duration{};
};

class AuditLog {
 public:
  static constexpr size_t kMaxSqlChars = 2000;

  // Appends to `path` (created with mode 0600 when missing).
  static arrow::Result<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  void Write(const AuditEntry& entry);
  // The JSON line for `entry`, newline included.
  static std::string Format(const AuditEntry& entry);

 private:
  explicit AuditLog(std::FILE* file);
  void FlushLoop();

  std::FILE* file_;
  std::mutex mutex_;  // guards buffer_, stopping_
  std::condition_variable wakeup_;
  std::string buffer_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace hyprstream::server
