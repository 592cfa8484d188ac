#include "server/tls_options.h"

#include <fstream>
#include <sstream>

namespace hyprstream::server {

arrow::Result<std::string> ReadTextFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::Status::IOError("cannot read ", what, " file ", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

arrow::Result<std::string> ReadPem(const std::string& path, const std::string& what) {
  ARROW_ASSIGN_OR_RAISE(auto text, ReadTextFile(path, what));
  if (text.find("-----BEGIN ") == std::string::npos) {
    return arrow::Status::Invalid(what, " file ", path, " is not PEM (no -----BEGIN line)");
  }
  return text;
}

}  // namespace

arrow::Status ApplyTlsOptions(const Config& config, arrow::flight::FlightServerOptions* options) {
  if (!config.tls_enabled()) return arrow::Status::OK();
  arrow::flight::CertKeyPair pair;
  ARROW_ASSIGN_OR_RAISE(pair.pem_cert, ReadPem(config.tls_cert, "--tls-cert"));
  ARROW_ASSIGN_OR_RAISE(pair.pem_key, ReadPem(config.tls_key, "--tls-key"));
  options->tls_certificates.push_back(std::move(pair));
  if (!config.tls_client_ca.empty()) {
    ARROW_ASSIGN_OR_RAISE(options->root_certificates,
                          ReadPem(config.tls_client_ca, "--tls-client-ca"));
    options->verify_client = true;
  }
  return arrow::Status::OK();
}

arrow::Result<arrow::flight::Location> ListenLocation(const Config& config) {
  if (config.tls_enabled()) return arrow::flight::Location::ForGrpcTls(config.host, config.port);
  return arrow::flight::Location::ForGrpcTcp(config.host, config.port);
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace hyprstream::server
