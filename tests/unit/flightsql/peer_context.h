// PeerContext: a Flight call context with its own peer (one session per peer, no cookie) and
// nothing else, for driving SessionRegistry without a server.
#pragma once

#include <arrow/flight/server.h>

#include <string>
#include <utility>

namespace hyprstream::flightsql::testing {

class PeerContext : public arrow::flight::ServerCallContext {
 public:
  explicit PeerContext(std::string peer) : peer_(std::move(peer)) {}
  const std::string& peer_identity() const override { return identity_; }
  const std::string& peer() const override { return peer_; }
  void AddHeader(const std::string&, const std::string&) const override {}
  void AddTrailer(const std::string&, const std::string&) const override {}
  arrow::flight::ServerMiddleware* GetMiddleware(const std::string&) const override {
    return nullptr;
  }
  bool is_cancelled() const override { return false; }
  const arrow::flight::CallHeaders& incoming_headers() const override { return headers_; }

 private:
  std::string peer_;
  std::string identity_;
  arrow::flight::CallHeaders headers_;
};

}  // namespace hyprstream::flightsql::testing
