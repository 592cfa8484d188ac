// RunServer: the whole process lifecycle — configuration, logging, engine, Flight SQL
// server, signal handling and shutdown. Returns the process exit code (0 clean, 1 runtime
// failure, 2 bad configuration).
#pragma once

#include <map>
#include <string>

namespace hyprstream::server {

int RunServer(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

}  // namespace hyprstream::server
