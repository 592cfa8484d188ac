// Helpers for the ADBC engine unit tests: a temp-file SQLite database behind the SQLite ADBC
// driver from the project venv (real driver, no mocks).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "engine/adbc_engine.h"
#include "engine_test_util.h"

namespace hyprstream::engine::testing {

// A fresh SQLite database file, removed at the end of the test.
class TempSqliteFile {
 public:
  TempSqliteFile() {
    dir_ = std::filesystem::temp_directory_path() /
           ("hyprstream-adbc-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
  }
  ~TempSqliteFile() { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "test.db").string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

inline arrow::Result<std::shared_ptr<Engine>> OpenSqliteEngine(const std::string& path,
                                                               const std::string& query = "") {
  EngineOptions options;
  options.connection = path + query;
  return OpenAdbcEngine(options);
}

}  // namespace hyprstream::engine::testing
