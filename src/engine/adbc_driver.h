// AdbcDriver: an ADBC driver loaded from its shared library the way an ADBC driver manager does
// (dlopen, entry point, init with ADBC 1.1.0 falling back to 1.0.0). The library stays loaded
// for the life of the process. Immutable after Load; shared by every handle it creates.
#pragma once

#include <arrow/c/abi.h>  // before adbc.h: one definition of the Arrow C data interface
#include <arrow/result.h>

#include <adbc.h>

#include <map>
#include <memory>
#include <string>

namespace hyprstream::engine {

// Which library to load: `driver_path` (a file), else `driver` (a short name: postgresql,
// sqlite, flightsql; or a path), else the driver the connection URI's scheme implies.
struct AdbcDriverLocation {
  std::string path;        // resolved shared library file
  std::string entrypoint;  // empty: AdbcDriverInit, then the name derived from the file name
};

// Resolves the library from the engine options and the connection URI. Short names map to the
// files the adbc-driver-* wheels install: $HYPRSTREAM_ADBC_DRIVER_DIR, else the build's venv
// site-packages, then adbc_driver_<name>/libadbc_driver_<name>.so.
arrow::Result<AdbcDriverLocation> ResolveAdbcDriver(
    const std::map<std::string, std::string>& options, const std::string& uri);

// The short driver name a URI implies (postgresql, flightsql, sqlite), or "" when none.
std::string AdbcDriverForUri(const std::string& uri);

class AdbcDriverLibrary {
 public:
  static arrow::Result<std::shared_ptr<AdbcDriverLibrary>> Load(const AdbcDriverLocation& where);
  ~AdbcDriverLibrary();

  // The driver's function table (ADBC 1.1.0 layout; 1.1.0 entries are null for 1.0.0 drivers).
  AdbcDriver* driver() { return &driver_; }
  int version() const { return version_; }
  bool supports_1_1() const { return version_ >= ADBC_VERSION_1_1_0; }
  const std::string& path() const { return path_; }

 private:
  AdbcDriverLibrary() = default;

  AdbcDriver driver_{};
  int version_ = 0;
  std::string path_;
  void* handle_ = nullptr;
};

}  // namespace hyprstream::engine
