// SessionRegistry: the server-side state behind Flight SQL handles.
//
//  - Session: one engine connection per client session. A session is named by the
//    `arrow_flight_session_id` cookie when the client sends one, otherwise by the client's
//    transport peer (one gRPC channel = one session), so temp tables and settings persist
//    across calls without cookies.
//  - Transaction: BeginTransaction opens a dedicated engine connection; commands carrying its
//    transaction_id run there, everything else stays autocommit.
//  - PreparedStatement: a prepared engine statement, bound to the connection it was prepared on.
//  - PendingResult: what a FlightInfo's ticket points at, consumed by one DoGet; while that
//    DoGet streams, the ticket stays registered as running so CancelFlightInfo can stop it.
//  - PollJob: a statement submitted with PollFlightInfo, running in the background.
// Every handle is an unguessable random id and expires when unused (see ServerLimits).
// Thread-safe; the maps are sharded (ExpiringMap) and per-object state has its own mutex.
#pragma once

#include <arrow/flight/server.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "flightsql/access_policy.h"
#include "flightsql/expiring_map.h"
#include "flightsql/poll_job.h"

namespace hyprstream::flightsql {

struct PreparedStatement {
  std::string sql;
  std::string transaction_id;  // the transaction it was prepared in, if any
  std::shared_ptr<engine::EngineConnection> connection;
  std::mutex mutex;  // guards statement and parameters
  std::unique_ptr<engine::EngineStatement> statement;
  std::shared_ptr<arrow::RecordBatch> parameters;  // rows bound by the last DoPut, or null
  // What executing it needs (access_policy.h), decided when it was prepared.
  Role required_role = Role::kReadOnly;
  std::string required_for = "SELECT";
};

// A result announced by GetFlightInfo and streamed by DoGet. Either `reader` holds a result
// that was already executed (statements with side effects run exactly once, at
// GetFlightInfo), or `statement` + `parameters` describe a side-effect-free query that DoGet
// executes.
struct PendingResult {
  std::shared_ptr<engine::EngineConnection> connection;  // where it runs (for cancel)
  std::shared_ptr<arrow::Schema> schema;
  std::shared_ptr<arrow::RecordBatchReader> reader;
  std::shared_ptr<PreparedStatement> statement;
  std::shared_ptr<arrow::RecordBatch> parameters;
};

// A client session: its engine connection and the session options it set.
struct ClientSession {
  std::shared_ptr<engine::EngineConnection> connection;
  std::mutex mutex;  // guards options
  std::map<std::string, arrow::flight::SessionOptionValue> options;
};

// An engine call in progress on behalf of an RPC; interrupted when the client cancels that
// RPC or sends CancelFlightInfo.
struct RunningCall {
  std::shared_ptr<engine::EngineConnection> connection;
  const arrow::flight::ServerCallContext* context;  // valid while registered
};

struct Transaction {
  std::shared_ptr<engine::EngineConnection> connection;
  std::mutex mutex;  // guards on_commit
  // Run after a successful commit (e.g. folding committed rows into windows).
  std::vector<std::function<void()>> on_commit;
};

struct ServerLimits {
  std::chrono::seconds session_idle_timeout{3600};
  std::chrono::seconds statement_idle_timeout{600};
};

class SessionRegistry {
 public:
  SessionRegistry(std::shared_ptr<engine::Engine> engine, ServerLimits limits);

  // The connection that runs a command from `context` with an optional transaction id:
  // the transaction's connection when given (NotFound if unknown), else the session's.
  arrow::Result<std::shared_ptr<engine::EngineConnection>> ConnectionFor(
      const arrow::flight::ServerCallContext& context, const std::string& transaction_id);

  // The caller's session, created on first use.
  arrow::Result<std::shared_ptr<ClientSession>> SessionOf(
      const arrow::flight::ServerCallContext& context);

  arrow::Result<std::string> BeginTransaction();
  // Runs `action` once transaction `transaction_id` commits (never if it rolls back).
  arrow::Status OnCommit(const std::string& transaction_id, std::function<void()> action);
  // Commits or rolls back and forgets the transaction (also when the end fails).
  arrow::Status EndTransaction(const std::string& transaction_id, bool commit);

  std::string AddPreparedStatement(std::shared_ptr<PreparedStatement> statement);
  arrow::Result<std::shared_ptr<PreparedStatement>> GetPreparedStatement(const std::string& handle);
  bool ClosePreparedStatement(const std::string& handle);

  std::string AddPendingResult(std::shared_ptr<PendingResult> result);
  // Removes and returns the result behind a ticket; NotFound if unknown, used or expired.
  arrow::Result<std::shared_ptr<PendingResult>> TakePendingResult(const std::string& id);

  // The RPC `context` runs something on `connection` under `id` (a result ticket, or a fresh
  // id) / has finished; the caller unregisters before the RPC ends.
  void MarkRunning(const std::string& id, std::shared_ptr<engine::EngineConnection> connection,
                   const arrow::flight::ServerCallContext* context);
  void MarkFinished(const std::string& id);
  // Interrupts the engine work of every registered RPC whose client has gone or cancelled.
  void InterruptCancelledCalls();

  enum class CancelOutcome { kCancelled, kNotCancellable };
  // Cancels what ticket (or poll job) `id` names: an unread result is dropped, a running
  // stream or poll job is interrupted. kNotCancellable when it has finished or is unknown.
  CancelOutcome Cancel(const std::string& id);

  std::string AddPollJob(std::shared_ptr<PollJob> job);
  arrow::Result<std::shared_ptr<PollJob>> GetPollJob(const std::string& id);
  void ForgetPollJob(const std::string& id);

  // Closes the caller's session: its connection goes (an open transaction on it is rolled
  // back). False when there was none.
  bool CloseSession(const arrow::flight::ServerCallContext& context);

  // Drops idle sessions, statements, results and transactions (rolled back).
  void Sweep();

  size_t session_count() const { return sessions_.size(); }

  // The session name for a call: its session cookie, else its peer.
  static std::string SessionKey(const arrow::flight::ServerCallContext& context);

 private:
  std::shared_ptr<engine::Engine> engine_;
  ExpiringMap<ClientSession> sessions_;
  ExpiringMap<Transaction> transactions_;
  ExpiringMap<PreparedStatement> statements_;
  ExpiringMap<PendingResult> results_;
  ExpiringMap<RunningCall> running_;
  ExpiringMap<PollJob> poll_jobs_;
};

}  // namespace hyprstream::flightsql
