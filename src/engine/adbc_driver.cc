#include "engine/adbc_driver.h"

#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <vector>

#include "engine/adbc_status.h"

#ifndef HYPRSTREAM_ADBC_DRIVER_DIR
#define HYPRSTREAM_ADBC_DRIVER_DIR ""
#endif

namespace hyprstream::engine {
namespace {

constexpr const char* kShortNames[] = {"postgresql", "sqlite", "flightsql"};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string DriverDir() {
  if (const char* dir = std::getenv("HYPRSTREAM_ADBC_DRIVER_DIR"); dir && *dir) return dir;
  return HYPRSTREAM_ADBC_DRIVER_DIR;
}

arrow::Result<std::string> ShortNamePath(const std::string& name) {
  std::string canonical = name == "postgres" ? "postgresql" : name;
  for (const char* known : kShortNames) {
    if (canonical != known) continue;
    std::string dir = DriverDir();
    if (dir.empty()) {
      return arrow::Status::Invalid("ADBC driver '", name,
                                    "': no driver directory known; set HYPRSTREAM_ADBC_DRIVER_DIR "
                                    "or give driver_path=<file>");
    }
    return (std::filesystem::path(dir) / ("adbc_driver_" + canonical) /
            ("libadbc_driver_" + canonical + ".so"))
        .string();
  }
  return arrow::Status::Invalid("unknown ADBC driver '", name,
                                "'; accepted: postgresql (or postgres), sqlite, flightsql, "
                                "or a path to a driver library (driver_path=<file>)");
}

// libadbc_driver_postgresql.so -> AdbcDriverPostgresqlInit (the driver manager's rule).
std::string DerivedEntrypoint(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  if (auto dot = stem.find('.'); dot != std::string::npos) stem.resize(dot);
  if (StartsWith(stem, "lib")) stem = stem.substr(3);
  if (StartsWith(stem, "adbc_driver_")) stem = stem.substr(12);
  std::string name = "AdbcDriver";
  bool upper = true;
  for (char c : stem) {
    if (c == '_' || c == '-') {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return name + "Init";
}

}  // namespace

std::string AdbcDriverForUri(const std::string& uri) {
  if (StartsWith(uri, "postgresql://") || StartsWith(uri, "postgres://")) return "postgresql";
  if (StartsWith(uri, "grpc://") || StartsWith(uri, "grpc+tls://") ||
      StartsWith(uri, "grpc+tcp://") || StartsWith(uri, "grpc+unix://")) {
    return "flightsql";
  }
  std::string path = uri.substr(0, uri.find('?'));
  if (StartsWith(uri, "file:") || EndsWith(path, ".db") || EndsWith(path, ".sqlite") ||
      EndsWith(path, ".sqlite3") || uri == ":memory:") {
    return "sqlite";
  }
  return "";
}

arrow::Result<AdbcDriverLocation> ResolveAdbcDriver(
    const std::map<std::string, std::string>& options, const std::string& uri) {
  AdbcDriverLocation where;
  if (auto it = options.find("entrypoint"); it != options.end()) where.entrypoint = it->second;
  if (auto it = options.find("driver_path"); it != options.end()) {
    where.path = it->second;
  } else if (auto it = options.find("driver"); it != options.end()) {
    if (it->second.find('/') != std::string::npos) {
      where.path = it->second;
    } else {
      ARROW_ASSIGN_OR_RAISE(where.path, ShortNamePath(it->second));
    }
  } else {
    std::string name = AdbcDriverForUri(uri);
    if (name.empty()) {
      return arrow::Status::Invalid(
          "cannot tell which ADBC driver serves '", uri.substr(0, uri.find(':')),
          ":' connections; give --engine-options driver=postgresql|sqlite|flightsql or "
          "driver_path=<file>");
    }
    ARROW_ASSIGN_OR_RAISE(where.path, ShortNamePath(name));
  }
  return where;
}

arrow::Result<std::shared_ptr<AdbcDriverLibrary>> AdbcDriverLibrary::Load(
    const AdbcDriverLocation& where) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(where.path, ec)) {
    return arrow::Status::Invalid("ADBC driver library not found: ", where.path);
  }
  void* handle = ::dlopen(where.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return arrow::Status::Invalid("cannot load ADBC driver ", where.path,
                                  " (not a loadable shared library): ", why ? why : "?");
  }
  std::vector<std::string> tried;
  if (!where.entrypoint.empty()) {
    tried = {where.entrypoint};
  } else {
    tried = {"AdbcDriverInit", DerivedEntrypoint(where.path)};
  }
  AdbcDriverInitFunc init = nullptr;
  for (const auto& name : tried) {
    init = reinterpret_cast<AdbcDriverInitFunc>(::dlsym(handle, name.c_str()));
    if (init != nullptr) break;
  }
  if (init == nullptr) {
    ::dlclose(handle);
    std::string names;
    for (const auto& name : tried) names += (names.empty() ? "" : ", ") + name;
    return arrow::Status::Invalid("ADBC driver ", where.path,
                                  " is not an ADBC driver: no entry point ", names,
                                  " (set entrypoint=<symbol>)");
  }
  std::shared_ptr<AdbcDriverLibrary> library(new AdbcDriverLibrary());
  library->path_ = where.path;
  library->handle_ = handle;
  for (int version : {ADBC_VERSION_1_1_0, ADBC_VERSION_1_0_0}) {
    library->driver_ = AdbcDriver{};
    AdbcErrorHolder error;
    AdbcStatusCode code = init(version, &library->driver_, error.get());
    if (code == ADBC_STATUS_OK) {
      library->version_ = version;
      return library;
    }
    if (code != ADBC_STATUS_NOT_IMPLEMENTED || version == ADBC_VERSION_1_0_0) {
      return AdbcStatusToArrow(code, error.get(), "initialising ADBC driver " + where.path);
    }
  }
  return arrow::Status::Invalid("ADBC driver ", where.path, " supports no known ADBC version");
}

AdbcDriverLibrary::~AdbcDriverLibrary() {
  // The library itself stays loaded: drivers may own threads (Go runtime) that outlive release.
  if (driver_.release != nullptr) {
    AdbcErrorHolder error;
    driver_.release(&driver_, error.get());
  }
}

}  // namespace hyprstream::engine
