// HttpEndpoint: a minimal HTTP/1.1 responder for operators' probes (/health, /metrics). One
// thread accepts and answers one short GET at a time, then closes the connection; no keep-alive,
// no request bodies, no TLS. The handler maps a path to a response and must be thread-safe
// against the rest of the process (it runs on the endpoint's thread).
#pragma once

#include <arrow/result.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace hyprstream::server {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpEndpoint {
 public:
  using Handler = std::function<HttpResponse(const std::string& path)>;

  // Listens on host:port (port 0: any free port) and serves until destroyed.
  static arrow::Result<std::unique_ptr<HttpEndpoint>> Start(const std::string& host, int port,
                                                            Handler handler);
  ~HttpEndpoint();

  int port() const { return port_; }

 private:
  HttpEndpoint(int listen_fd, int port, Handler handler);
  void AcceptLoop();
  void Answer(int client_fd);

  int listen_fd_;
  int port_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace hyprstream::server
