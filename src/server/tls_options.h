// TLS settings of the Flight server from the Config: reads the PEM files named by --tls-cert,
// --tls-key and --tls-client-ca into FlightServerOptions (mutual TLS when a client CA is
// given). gRPC, linked inside libarrow_flight, negotiates TLS 1.2 or 1.3 and offers no way to
// raise the minimum; the config loader refuses a minimum it cannot enforce. Pure functions.
#pragma once

#include <arrow/flight/server.h>

#include "server/config.h"

namespace hyprstream::server {

// IOError naming the file when one cannot be read; Invalid when it is not PEM.
arrow::Status ApplyTlsOptions(const Config& config, arrow::flight::FlightServerOptions* options);

// The Flight location to listen on: grpc+tls:// when TLS is configured, else grpc+tcp://.
arrow::Result<arrow::flight::Location> ListenLocation(const Config& config);

// Whether `host` only accepts connections from this machine (localhost, 127.x, ::1).
bool IsLoopbackHost(const std::string& host);

arrow::Result<std::string> ReadTextFile(const std::string& path, const std::string& what);

}  // namespace hyprstream::server
