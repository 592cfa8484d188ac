// hyprstream: process entry point. Loads the configuration, opens the engine, serves Flight
// SQL until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>

#include "server/config.h"
#include "server/server_main.h"

extern char** environ;

int main(int argc, char** argv) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return hyprstream::server::RunServer(argc, argv, env);
}
