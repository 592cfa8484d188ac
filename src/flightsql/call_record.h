// CallRecord: who makes the current Flight call and what it did, for the access policy and
// the audit log. The server's call middleware (server/call_gate.h) installs one per call under
// kCallRecordKey when authentication, --readonly or the audit log is on; without it a call
// has every right, as before. The handler thread notes the command, SQL and rows; rows may
// also be counted by the stream the handler returned (atomic). CallCompleted runs the
// completion callback once, after the handler and its stream are done.
#pragma once

#include <arrow/flight/server.h>
#include <arrow/flight/server_middleware.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "flightsql/access_policy.h"

namespace hyprstream::flightsql {

constexpr char kCallRecordKey[] = "hyprstream.call";

struct CallIdentity {
  std::string user;  // "anonymous" when authentication is off
  Role role = Role::kAdmin;
  // Groups for grants (access/grant.h): a [[users]] entry's, or an external token's groups
  // and role claims.
  std::vector<std::string> groups = {};
};

class CallRecord : public arrow::flight::ServerMiddleware {
 public:
  using Completion = std::function<void(const CallRecord&, const arrow::Status&)>;

  // `bearer_token` (may be empty) is sent back in the `authorization` response header.
  CallRecord(CallIdentity identity, std::string rpc, std::string peer, std::string bearer_token,
             Completion on_complete);

  std::string name() const override { return "CallRecord"; }
  void SendingHeaders(arrow::flight::AddCallHeaders* outgoing_headers) override;
  void CallCompleted(const arrow::Status& status) override;

  const CallIdentity& identity() const { return identity_; }
  const std::string& rpc() const { return rpc_; }
  const std::string& peer() const { return peer_; }
  std::chrono::system_clock::time_point started() const { return started_; }
  std::chrono::steady_clock::duration elapsed() const {
    return std::chrono::steady_clock::now() - steady_start_;
  }

  // The command kind ("CommandStatementQuery", an action type) and its SQL, if any.
  void NoteCommand(std::string command, std::string sql = "");
  std::string command() const;
  std::string sql() const;
  // A handle of another user that the call presented and was refused ("prepared statement
  // handle of user 'alice'"): the client sees the same answer as for an unknown handle, the
  // audit log sees this.
  void NoteRefusedHandle(std::string what);
  std::string refused_handle() const;
  // Rows written or streamed; -1 when unknown.
  void AddRows(int64_t rows);
  int64_t rows() const { return rows_.load(); }

 private:
  const CallIdentity identity_;
  const std::string rpc_;
  const std::string peer_;
  const std::string bearer_token_;
  const Completion on_complete_;
  const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  const std::chrono::steady_clock::time_point steady_start_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;  // guards command_, sql_, refused_handle_
  std::string command_;
  std::string sql_;
  std::string refused_handle_;
  std::atomic<int64_t> rows_{-1};
};

// The RPC's name: arrow::flight::ToString, which calls PollFlightInfo "(unknown Flight
// method)" (Arrow 26).
std::string RpcName(arrow::flight::FlightMethod method);

// The record of the call, or nullptr when none is installed.
CallRecord* CallRecordOf(const arrow::flight::ServerCallContext& context);

// OK when the caller has `needed`; otherwise a Flight Unauthorized (gRPC PERMISSION_DENIED)
// error naming the user, role and `what`. Always OK when no record is installed.
arrow::Status RequireRole(const arrow::flight::ServerCallContext& context, Role needed,
                          const std::string& what);

// Requires `at_least` (without looking at the SQL, unless it is transaction control, which
// needs only its own role), then classifies `sql` on `connection` and requires its role.
// Skips the classification when the caller is admin or no record is installed.
arrow::Status RequireRoleForSql(const arrow::flight::ServerCallContext& context,
                                engine::EngineConnection& connection, const std::string& sql,
                                Role at_least = Role::kReadOnly);

}  // namespace hyprstream::flightsql
