// SessionRegistry: the server-side state behind Flight SQL handles.
//
//  - Session: one engine connection per client session. A session is named by the
//    `arrow_flight_session_id` cookie when the client sends one, otherwise by the client's
//    transport peer (one gRPC channel = one session), so temp tables and settings persist
//    across calls without cookies.
//  - Transaction: commands carrying its transaction_id run on its connection. That is the
//    session's own connection (its temp tables, settings and prepared statements) when it is
//    free: no call holds it outside a transaction (a lease: ConnectionFor) and no other
//    transaction or SQL BEGIN is on it. Meanwhile the session's calls outside the transaction
//    run on a side connection set up like it. Otherwise the transaction gets a dedicated
//    connection set up like the session's. A statement prepared in a transaction that has
//    ended runs where the session's statements run now (ConnectionToExecute).
//  - PreparedStatement: a prepared engine statement, bound to the connection it was prepared on
//    (prepared again where it must run elsewhere: ConnectionToExecute).
//  - PendingResult: what a FlightInfo's ticket points at, consumed by one DoGet; while that
//    DoGet streams, the ticket stays registered as running so CancelFlightInfo can stop it.
//  - PollJob: a statement submitted with PollFlightInfo, running in the background. It holds
//    a statement slot and counts as running (gauges, query timeout, drain) until it ends;
//    a job nobody polls within the poll lease is stopped and forgotten.
// Every handle is an unguessable random id and expires when unused (see ServerLimits).
// Every handle, and every session, belongs to the user whose call made it (OwnerOf): another
// user presenting its id gets exactly the answer for an unknown id, so ids cannot be probed,
// and the refusal is noted for the audit log (CallRecord::NoteRefusedHandle). A session
// cookie or peer presented by another user names that user's own session. Without
// authentication every call is the same user, and nothing changes.
// Limits: sessions beyond max_sessions (admitted atomically: SessionAdmission) and statements
// that find no slot in the StatementGate within its queue timeout get UNAVAILABLE; a running
// call past its query timeout is interrupted by InterruptCancelledCalls and ends with
// DEADLINE_EXCEEDED (TimedOut). Thread-safe; the maps are sharded (ExpiringMap) and
// per-object state has its own mutex.
#pragma once

#include <arrow/flight/server.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "flightsql/access_policy.h"
#include "flightsql/expiring_map.h"
#include "flightsql/poll_job.h"
#include "flightsql/session_admission.h"
#include "flightsql/statement_gate.h"

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
  StatementClass required_class = StatementClass::kQuery;
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
  SessionAdmission::Slot slot;  // declared first: given back after the session drops its connection
  std::shared_ptr<engine::EngineConnection> connection;
  std::mutex mutex;  // guards options, catalog_chosen, schema_chosen
  std::map<std::string, arrow::flight::SessionOptionValue> options;
  // Whether the client chose the catalog / schema (the connection reports the current ones).
  bool catalog_chosen = false;
  bool schema_chosen = false;
  // Lending `connection` to a Flight SQL transaction. Its own mutex: the side connection is
  // made under it (engine work), which readers of `options` need not wait for.
  std::mutex lending;
  std::string lent_to;  // GUARDED_BY(lending): the transaction running on `connection`
  int64_t leases = 0;   // GUARDED_BY(lending): calls using `connection` outside it
  std::shared_ptr<engine::EngineConnection> side;  // GUARDED_BY(lending): while lent
  // GUARDED_BY(lending): sets a new connection up like `connection` (its options, catalog,
  // schema), as they were when it was lent.
  std::function<arrow::Status(engine::EngineConnection&)> side_setup;
};

// The session option that overrides --query-timeout for one session ("30s", "500ms", 0: none).
inline constexpr char kQueryTimeoutOption[] = "hyprstream.query_timeout";

// An engine call in progress on behalf of an RPC; interrupted when the client cancels that
// RPC, sends CancelFlightInfo, or the call outlives its query timeout.
struct RunningCall {
  std::shared_ptr<engine::EngineConnection> connection;
  const arrow::flight::ServerCallContext* context = nullptr;  // valid while registered
  std::chrono::milliseconds timeout{0};                       // 0: none
  std::chrono::steady_clock::time_point deadline;             // when timeout > 0
  std::atomic<bool> timed_out{false};
  StatementGate::Permit permit;  // its slot among the concurrent statements, if it holds one
};

struct Transaction {
  std::shared_ptr<engine::EngineConnection> connection;
  bool lent = false;  // `connection` is a session's own
  // That session, while open: CloseSession frees its slot at once, and the transaction goes
  // on (its connection is kept by `connection`) until it ends.
  std::weak_ptr<ClientSession> lent_from;
};

struct ServerLimits {
  std::chrono::seconds session_idle_timeout{3600};
  std::chrono::seconds statement_idle_timeout{600};
  std::chrono::milliseconds query_timeout{0};  // 0: none
  int64_t max_sessions = 0;                    // 0: no limit
  int64_t max_concurrent_statements = 0;       // 0: no limit
  std::chrono::milliseconds statement_queue_timeout{30000};
  // A polled query whose client does not poll again within this long is stopped.
  std::chrono::seconds poll_lease{30};
};

class SessionRegistry {
 public:
  SessionRegistry(std::shared_ptr<engine::Engine> engine, ServerLimits limits);

  // The connection that runs a command from `context` with an optional transaction id:
  // the transaction's connection when given (NotFound if unknown), else the session's, or its
  // side connection while the session's is lent to a transaction. The session's connection is
  // returned leased: it is not lent while any copy of the pointer lives, so keep it for the
  // call only (Unleased gives the one to keep).
  arrow::Result<std::shared_ptr<engine::EngineConnection>> ConnectionFor(
      const arrow::flight::ServerCallContext& context, const std::string& transaction_id);
  // Where a statement prepared in `transaction_id` ("": none) on `prepared_on` runs now: its
  // transaction's connection while it is open; once it has ended, the session's connection
  // as it is (in the session's transaction if lent to one, else leased); prepared outside a
  // transaction, as ConnectionFor(context, ""). The caller prepares it again where the
  // connection differs.
  arrow::Result<std::shared_ptr<engine::EngineConnection>> ConnectionToExecute(
      const arrow::flight::ServerCallContext& context, const std::string& transaction_id,
      const std::shared_ptr<engine::EngineConnection>& prepared_on);
  // The session's connection for a write that belongs to it whatever it is doing (an ingest
  // into its temp table, a statement of its ended transaction): inside the transaction that
  // runs on it, if one does, else leased as ConnectionFor gives it.
  arrow::Result<std::shared_ptr<engine::EngineConnection>> SessionConnectionForWrites(
      const arrow::flight::ServerCallContext& context);
  // The session's own connection as it is, for reads that change nothing (catalog metadata):
  // they see its temp tables and, while a transaction runs on it, that transaction's tables.
  arrow::Result<std::shared_ptr<engine::EngineConnection>> SessionConnection(
      const arrow::flight::ServerCallContext& context);
  // `connection` without its lease: the session's own pointer when it is the session's
  // connection, else `connection`.
  std::shared_ptr<engine::EngineConnection> Unleased(
      const arrow::flight::ServerCallContext& context,
      const std::shared_ptr<engine::EngineConnection>& connection);

  // The caller's session, created on first use: UNAVAILABLE when max_sessions sessions are
  // open. Concurrent first calls of one session make it once.
  arrow::Result<std::shared_ptr<ClientSession>> SessionOf(
      const arrow::flight::ServerCallContext& context);

  // The user that handles made by calls from `context` belong to: the authenticated user,
  // "" when no CallRecord is installed.
  static std::string OwnerOf(const arrow::flight::ServerCallContext& context);

  // The caller's session if it has one (none is created).
  std::shared_ptr<ClientSession> FindSession(const arrow::flight::ServerCallContext& context);

  // The handles below are made for, and found only for, the caller of `context` (OwnerOf).
  // BeginTransaction lends the session's connection when it is free (see the top), else runs
  // `setup` (the session's options) on a new connection before it begins there; `setup` is
  // also what a side connection gets.
  arrow::Result<std::string> BeginTransaction(
      const arrow::flight::ServerCallContext& context,
      const std::function<arrow::Status(engine::EngineConnection&)>& setup = {});
  // Commits or rolls back and forgets the transaction (also when the end fails).
  arrow::Status EndTransaction(const arrow::flight::ServerCallContext& context,
                               const std::string& transaction_id, bool commit);

  std::string AddPreparedStatement(const arrow::flight::ServerCallContext& context,
                                   std::shared_ptr<PreparedStatement> statement);
  arrow::Result<std::shared_ptr<PreparedStatement>> GetPreparedStatement(
      const arrow::flight::ServerCallContext& context, const std::string& handle);
  // False when the caller has no such handle (unknown, expired, or another user's: kept).
  bool ClosePreparedStatement(const arrow::flight::ServerCallContext& context,
                              const std::string& handle);

  std::string AddPendingResult(const arrow::flight::ServerCallContext& context,
                               std::shared_ptr<PendingResult> result);
  // Removes and returns the result behind a ticket; NotFound if unknown, used or expired.
  arrow::Result<std::shared_ptr<PendingResult>> TakePendingResult(
      const arrow::flight::ServerCallContext& context, const std::string& id);

  // Waits for a statement slot (max_concurrent_statements); UNAVAILABLE when none frees up
  // within the queue timeout. The permit goes to MarkRunning.
  arrow::Result<StatementGate::Permit> Admit(const arrow::flight::ServerCallContext& context);
  // The RPC `context` runs something on `connection` under `id` (a result ticket, or a fresh
  // id) for OwnerOf(context) / has finished; the caller unregisters (with that owner) before
  // the RPC ends. The query timeout (the session's hyprstream.query_timeout, else the
  // server's) counts from MarkRunning, unless `timed` is false (bulk ingest: its length is
  // the client's upload).
  void MarkRunning(const std::string& id, std::shared_ptr<engine::EngineConnection> connection,
                   const arrow::flight::ServerCallContext* context,
                   StatementGate::Permit permit = {}, bool timed = true);
  // Like MarkRunning for work that outlives the RPC `context` that started it (a poll job):
  // the query timeout is that call's, but the call's cancellation does not stop it.
  void MarkRunningInBackground(const std::string& id,
                               std::shared_ptr<engine::EngineConnection> connection,
                               const arrow::flight::ServerCallContext& context,
                               StatementGate::Permit permit);
  // Returns `outcome`, or DEADLINE_EXCEEDED naming the limit if the call failed because its
  // query timeout interrupted it.
  arrow::Status MarkFinished(const std::string& id, const std::string& owner,
                             arrow::Status outcome = arrow::Status::OK());
  // Interrupts the engine work of every registered RPC whose client has gone or cancelled,
  // or whose query timeout has passed.
  void InterruptCancelledCalls();
  // Interrupts every running call (shutdown after the grace period).
  void InterruptAll();

  enum class CancelOutcome { kCancelled, kNotCancellable };
  // Cancels what ticket (or poll job) `id` of the caller names: an unread result is dropped, a
  // running stream or poll job is interrupted. kNotCancellable when it has finished or is
  // unknown (or another user's: left alone).
  CancelOutcome Cancel(const arrow::flight::ServerCallContext& context, const std::string& id);

  void AddPollJob(const arrow::flight::ServerCallContext& context, const std::string& id,
                  std::shared_ptr<PollJob> job);
  // The job (renewing its lease), or NotFound.
  arrow::Result<std::shared_ptr<PollJob>> GetPollJob(
      const arrow::flight::ServerCallContext& context, const std::string& id);
  void ForgetPollJob(const arrow::flight::ServerCallContext& context, const std::string& id);
  // Stops and forgets poll jobs not polled within the poll lease; how many.
  size_t ExpireUnpolledJobs();
  const ServerLimits& limits() const { return limits_; }

  // Closes the caller's session: its connection goes (an open transaction on it is rolled
  // back). False when there was none.
  bool CloseSession(const arrow::flight::ServerCallContext& context);

  // Drops idle sessions, statements, results and transactions (rolled back).
  void Sweep();

  size_t session_count() const { return sessions_.size(); }
  size_t running_count() const { return running_.size(); }
  const StatementGate& gate() const { return gate_; }
  int64_t query_timeouts() const { return query_timeouts_; }
  int64_t sessions_rejected() const { return admission_.rejected(); }

  // The session name for a call: its session cookie, else its peer. Sessions of different
  // users under one name are separate.
  static std::string SessionKey(const arrow::flight::ServerCallContext& context);

 private:
  // The query timeout of calls from `context`: its session's option, else the server's.
  std::chrono::milliseconds QueryTimeoutOf(const arrow::flight::ServerCallContext& context);
  // The session's connection, leased (its lending mutex held by the caller).
  static std::shared_ptr<engine::EngineConnection> Lease(
      const std::shared_ptr<ClientSession>& session);
  // Ends a transaction's hold on its session's connection (after its commit or rollback).
  static void GiveBack(Transaction& transaction);

  std::shared_ptr<engine::Engine> engine_;
  ServerLimits limits_;
  StatementGate gate_;
  std::atomic<int64_t> query_timeouts_{0};
  SessionAdmission admission_;  // declared before sessions_: outlives the slots they hold
  ExpiringMap<ClientSession> sessions_;
  ExpiringMap<Transaction> transactions_;
  ExpiringMap<PreparedStatement> statements_;
  ExpiringMap<PendingResult> results_;
  ExpiringMap<RunningCall> running_;
  ExpiringMap<PollJob> poll_jobs_;
};

}  // namespace hyprstream::flightsql
