#include "flightsql/session_registry.h"

#include <arrow/flight/types.h>
#include <spdlog/spdlog.h>

#include <random>

#include "flightsql/call_record.h"
#include "flightsql/read_freshness.h"

namespace hyprstream::flightsql {

std::string NewHandleId() {
  static thread_local std::random_device device;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (size_t i = 0; i < id.size(); i += 8) {
    uint32_t bits = device();
    for (size_t j = 0; j < 8; ++j, bits >>= 4) id[i + j] = kHex[bits & 0xF];
  }
  return id;
}

namespace {

// Value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto end = header.find(';');
    std::string_view pair = header.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return "";
}

// When `found` is another user's entry, notes on the call's record that `what` was refused.
template <typename Found>
void NoteIfForeign(const arrow::flight::ServerCallContext& context, const Found& found,
                   const char* what) {
  if (!found.foreign) return;
  if (CallRecord* record = CallRecordOf(context)) {
    record->NoteRefusedHandle(std::string(what) + " of user '" + found.held_by + "'");
  }
}

// `found`'s value, else the status `missing`: the same whether the id is unknown or held by
// another user, so ids cannot be probed (the latter is noted for the audit log).
template <typename T>
arrow::Result<std::shared_ptr<T>> Owned(const arrow::flight::ServerCallContext& context,
                                        typename ExpiringMap<T>::Found found, const char* what,
                                        arrow::Status missing) {
  if (found.value) return std::move(found.value);
  NoteIfForeign(context, found, what);
  return missing;
}

// Notes on the call's record that `key` named another user's session (a cookie: users
// sharing one channel share its peer name by design, which is not worth a note).
void NoteForeignSession(const arrow::flight::ServerCallContext& context, const std::string& key,
                        const ExpiringMap<ClientSession>::Found& found, const char* outcome) {
  if (!found.foreign || key.rfind("cookie:", 0) != 0) return;
  if (CallRecord* record = CallRecordOf(context)) {
    record->NoteRefusedHandle("session (arrow_flight_session_id cookie) of user '" + found.held_by +
                              "'" + outcome);
  }
}

}  // namespace

SessionRegistry::SessionRegistry(std::shared_ptr<engine::Engine> engine, ServerLimits limits)
    : engine_(std::move(engine)),
      limits_(limits),
      gate_(limits.max_concurrent_statements, limits.statement_queue_timeout),
      admission_(limits.max_sessions),
      sessions_(limits.session_idle_timeout),
      transactions_(limits.session_idle_timeout),
      statements_(limits.statement_idle_timeout),
      results_(limits.statement_idle_timeout),
      running_(limits.session_idle_timeout),
      poll_jobs_(limits.poll_lease) {}

std::string SessionRegistry::SessionKey(const arrow::flight::ServerCallContext& context) {
  const auto& headers = context.incoming_headers();
  auto range = headers.equal_range("cookie");
  for (auto it = range.first; it != range.second; ++it) {
    std::string id = CookieValue(it->second, "arrow_flight_session_id");
    if (!id.empty()) return "cookie:" + id;
  }
  return "peer:" + context.peer();
}

std::string SessionRegistry::OwnerOf(const arrow::flight::ServerCallContext& context) {
  const CallRecord* record = CallRecordOf(context);
  return record == nullptr ? std::string() : record->identity().user;
}

arrow::Result<std::shared_ptr<engine::EngineConnection>> SessionRegistry::ConnectionFor(
    const arrow::flight::ServerCallContext& context, const std::string& transaction_id) {
  if (!transaction_id.empty()) {
    ARROW_ASSIGN_OR_RAISE(
        auto transaction,
        Owned<Transaction>(
            context, transactions_.Get(transaction_id, OwnerOf(context)), "transaction_id",
            arrow::Status::KeyError("unknown or expired transaction_id; begin a new transaction")));
    return transaction->connection;
  }
  ARROW_ASSIGN_OR_RAISE(auto session, SessionOf(context));
  std::lock_guard<std::mutex> lock(session->lending);
  if (session->lent_to.empty()) return Lease(session);
  if (!session->side) {
    // Created here, under the lending mutex: concurrent first calls make one.
    ARROW_ASSIGN_OR_RAISE(auto side, engine_->Connect());
    if (session->side_setup) ARROW_RETURN_NOT_OK(session->side_setup(*side));
    session->side = std::move(side);
  }
  return session->side;
}

arrow::Result<std::shared_ptr<engine::EngineConnection>> SessionRegistry::ConnectionToExecute(
    const arrow::flight::ServerCallContext& context, const std::string& transaction_id,
    const std::shared_ptr<engine::EngineConnection>& prepared_on) {
  if (transaction_id.empty()) return ConnectionFor(context, "");
  if (transactions_.Get(transaction_id, OwnerOf(context)).value) return prepared_on;
  // Its transaction has ended (a client such as the ADBC driver keeps a statement across its
  // commits): it runs where the session's statements run now.
  return SessionConnectionForWrites(context);
}

arrow::Result<std::shared_ptr<engine::EngineConnection>>
SessionRegistry::SessionConnectionForWrites(const arrow::flight::ServerCallContext& context) {
  ARROW_ASSIGN_OR_RAISE(auto session, SessionOf(context));
  std::lock_guard<std::mutex> lock(session->lending);
  if (!session->lent_to.empty()) return session->connection;
  return Lease(session);
}

arrow::Result<std::shared_ptr<engine::EngineConnection>> SessionRegistry::SessionConnection(
    const arrow::flight::ServerCallContext& context) {
  ARROW_ASSIGN_OR_RAISE(auto session, SessionOf(context));
  return session->connection;
}

std::shared_ptr<engine::EngineConnection> SessionRegistry::Unleased(
    const arrow::flight::ServerCallContext& context,
    const std::shared_ptr<engine::EngineConnection>& connection) {
  auto session = FindSession(context);
  if (session && session->connection.get() == connection.get()) return session->connection;
  return connection;
}

std::shared_ptr<engine::EngineConnection> SessionRegistry::Lease(
    const std::shared_ptr<ClientSession>& session) {
  // The pointer handed out shares the lease's lifetime: the last copy to go gives it back.
  // It keeps the connection, not the session: a closed session's slot is free at once, as
  // when it held no lease (an unread result may hold one for the statement idle timeout).
  struct Leased {
    Leased(const std::shared_ptr<ClientSession>& leased_session)
        : session(leased_session), connection(leased_session->connection) {}
    std::weak_ptr<ClientSession> session;
    std::shared_ptr<engine::EngineConnection> connection;
    ~Leased() {
      if (auto alive = session.lock()) {
        std::lock_guard<std::mutex> lock(alive->lending);
        --alive->leases;
      }
    }
  };
  ++session->leases;
  auto leased = std::make_shared<Leased>(session);  // made in place: no copy to destroy
  return std::shared_ptr<engine::EngineConnection>(leased, leased->connection.get());
}

void SessionRegistry::GiveBack(Transaction& transaction) {
  if (!transaction.lent) return;
  // A failed commit may leave the engine's transaction open: the session's next calls must
  // not run inside it.
  if (transaction.connection->InTransaction()) (void)transaction.connection->Rollback();
  auto session = transaction.lent_from.lock();
  if (!session) return;  // closed meanwhile
  std::lock_guard<std::mutex> lock(session->lending);
  session->lent_to.clear();
  session->side.reset();
  session->side_setup = nullptr;
}

arrow::Result<std::shared_ptr<ClientSession>> SessionRegistry::SessionOf(
    const arrow::flight::ServerCallContext& context) {
  const std::string key = SessionKey(context);
  const std::string owner = OwnerOf(context);
  auto found = sessions_.Get(key, owner);
  if (found.value) return std::move(found.value);
  // Another user's session cookie: this caller gets a session of its own under it.
  NoteForeignSession(context, key, found, "; the caller got a session of its own");
  // The slot is taken before connecting and goes back when this fails, or with the session
  // when it is closed, expires or is dropped.
  auto make = [&]() -> arrow::Result<std::shared_ptr<ClientSession>> {
    ARROW_ASSIGN_OR_RAISE(auto slot, admission_.TryReserve());
    ARROW_ASSIGN_OR_RAISE(auto connection, engine_->Connect());
    auto session = std::make_shared<ClientSession>();
    session->slot = std::move(slot);
    session->connection = std::move(connection);
    return session;
  };
  return sessions_.GetOrCreate(key, owner, make);
}

std::shared_ptr<ClientSession> SessionRegistry::FindSession(
    const arrow::flight::ServerCallContext& context) {
  return sessions_.Get(SessionKey(context), OwnerOf(context)).value;
}

arrow::Result<std::string> SessionRegistry::BeginTransaction(
    const arrow::flight::ServerCallContext& context,
    const std::function<arrow::Status(engine::EngineConnection&)>& setup) {
  ARROW_ASSIGN_OR_RAISE(auto session, SessionOf(context));
  const std::string id = NewHandleId();
  auto transaction = std::make_shared<Transaction>();
  {
    std::lock_guard<std::mutex> lock(session->lending);
    // No lease out means no call is on the connection, so its state cannot change under us.
    if (session->lent_to.empty() && session->leases == 0 && !session->connection->InTransaction()) {
      session->lent_to = id;
      session->side_setup = setup;
      transaction->lent = true;
      transaction->lent_from = session;
    }
  }
  if (transaction->lent) {
    transaction->connection = session->connection;
    if (auto begun = transaction->connection->BeginTransaction(); !begun.ok()) {
      GiveBack(*transaction);
      return begun;
    }
  } else {
    ARROW_ASSIGN_OR_RAISE(transaction->connection, engine_->Connect());
    if (setup) ARROW_RETURN_NOT_OK(setup(*transaction->connection));
    ARROW_RETURN_NOT_OK(transaction->connection->BeginTransaction());
  }
  transactions_.Put(id, OwnerOf(context), std::move(transaction));
  return id;
}

arrow::Status SessionRegistry::EndTransaction(const arrow::flight::ServerCallContext& context,
                                              const std::string& transaction_id, bool commit) {
  ARROW_ASSIGN_OR_RAISE(
      auto transaction,
      Owned<Transaction>(context, transactions_.Take(transaction_id, OwnerOf(context)),
                         "transaction_id",
                         arrow::Status::KeyError("unknown or expired transaction_id; nothing to ",
                                                 commit ? "commit" : "roll back")));
  // What depends on the outcome (windows folding committed rows) follows the connection.
  auto ended = commit ? transaction->connection->Commit() : transaction->connection->Rollback();
  GiveBack(*transaction);
  return ended;
}

std::string SessionRegistry::AddPreparedStatement(const arrow::flight::ServerCallContext& context,
                                                  std::shared_ptr<PreparedStatement> statement) {
  return statements_.Insert(OwnerOf(context), std::move(statement));
}

arrow::Result<std::shared_ptr<PreparedStatement>> SessionRegistry::GetPreparedStatement(
    const arrow::flight::ServerCallContext& context, const std::string& handle) {
  return Owned<PreparedStatement>(
      context, statements_.Get(handle, OwnerOf(context)), "prepared statement handle",
      arrow::Status::KeyError(
          "unknown or expired prepared statement handle; create the prepared statement again"));
}

bool SessionRegistry::ClosePreparedStatement(const arrow::flight::ServerCallContext& context,
                                             const std::string& handle) {
  auto found = statements_.Take(handle, OwnerOf(context));
  NoteIfForeign(context, found, "prepared statement handle");
  return found.value != nullptr;
}

std::string SessionRegistry::AddPendingResult(const arrow::flight::ServerCallContext& context,
                                              std::shared_ptr<PendingResult> result) {
  return results_.Insert(OwnerOf(context), std::move(result));
}

arrow::Result<std::shared_ptr<PendingResult>> SessionRegistry::TakePendingResult(
    const arrow::flight::ServerCallContext& context, const std::string& id) {
  return Owned<PendingResult>(
      context, results_.Take(id, OwnerOf(context)), "result ticket",
      arrow::Status::KeyError(
          "unknown ticket: it was already read, has expired, or was never issued; call "
          "GetFlightInfo again"));
}

arrow::Result<StatementGate::Permit> SessionRegistry::Admit(
    const arrow::flight::ServerCallContext& context) {
  return gate_.Acquire([&context] { return context.is_cancelled(); });
}

std::chrono::milliseconds SessionRegistry::QueryTimeoutOf(
    const arrow::flight::ServerCallContext& context) {
  // Get renews the session: every statement counts as its use, in a transaction or not.
  if (auto session = sessions_.Get(SessionKey(context), OwnerOf(context)).value) {
    std::lock_guard<std::mutex> lock(session->mutex);
    auto it = session->options.find(kQueryTimeoutOption);
    if (it != session->options.end()) {
      auto timeout = ParseStaleness(it->second);  // validated when it was set
      if (timeout.ok()) return *timeout;
    }
  }
  return limits_.query_timeout;
}

void SessionRegistry::MarkRunning(const std::string& id,
                                  std::shared_ptr<engine::EngineConnection> connection,
                                  const arrow::flight::ServerCallContext* context,
                                  StatementGate::Permit permit, bool timed) {
  if (!connection) return;
  auto call = std::make_shared<RunningCall>();
  call->connection = std::move(connection);
  call->context = context;
  call->permit = std::move(permit);
  if (context != nullptr && timed) call->timeout = QueryTimeoutOf(*context);
  call->deadline = std::chrono::steady_clock::now() + call->timeout;
  running_.Put(id, context != nullptr ? OwnerOf(*context) : std::string(), std::move(call));
}

void SessionRegistry::MarkRunningInBackground(const std::string& id,
                                              std::shared_ptr<engine::EngineConnection> connection,
                                              const arrow::flight::ServerCallContext& context,
                                              StatementGate::Permit permit) {
  if (!connection) return;
  auto call = std::make_shared<RunningCall>();
  call->connection = std::move(connection);
  call->permit = std::move(permit);
  call->timeout = QueryTimeoutOf(context);
  call->deadline = std::chrono::steady_clock::now() + call->timeout;
  running_.Put(id, OwnerOf(context), std::move(call));
}

void SessionRegistry::InterruptCancelledCalls() {
  const auto now = std::chrono::steady_clock::now();
  running_.ForEach([&](RunningCall& call) {
    if (call.context != nullptr && call.context->is_cancelled()) {
      call.connection->Interrupt();
    } else if (call.timeout.count() > 0 && now >= call.deadline && !call.timed_out.exchange(true)) {
      spdlog::info("interrupting a statement that ran past its {} ms query timeout",
                   call.timeout.count());
      call.connection->Interrupt();
    }
  });
}

void SessionRegistry::InterruptAll() {
  running_.ForEach([](RunningCall& call) { call.connection->Interrupt(); });
}

arrow::Status SessionRegistry::MarkFinished(const std::string& id, const std::string& owner,
                                            arrow::Status outcome) {
  auto call = running_.Take(id, owner).value;
  if (outcome.ok() || call == nullptr || !call->timed_out) return outcome;
  ++query_timeouts_;
  return arrow::flight::MakeFlightError(
      arrow::flight::FlightStatusCode::TimedOut,
      "the statement ran longer than its query timeout of " +
          std::to_string(call->timeout.count()) +
          " ms and was interrupted; raise the limit for this session with the session option " +
          kQueryTimeoutOption + " (e.g. '10m', 0 for none) or for the server with --query-timeout");
}

SessionRegistry::CancelOutcome SessionRegistry::Cancel(
    const arrow::flight::ServerCallContext& context, const std::string& id) {
  const std::string owner = OwnerOf(context);
  // Another user's ticket or job answers like an unknown one: not cancellable, left alone.
  auto result = results_.Take(id, owner);
  NoteIfForeign(context, result, "result ticket");
  if (result.value) return CancelOutcome::kCancelled;
  auto call = running_.Take(id, owner);
  NoteIfForeign(context, call, "result ticket");
  if (call.value) {
    call.value->connection->Interrupt();
    return CancelOutcome::kCancelled;
  }
  auto job = poll_jobs_.Get(id, owner);
  NoteIfForeign(context, job, "poll descriptor");
  if (job.value && job.value->Cancel()) return CancelOutcome::kCancelled;
  return CancelOutcome::kNotCancellable;
}

void SessionRegistry::AddPollJob(const arrow::flight::ServerCallContext& context,
                                 const std::string& id, std::shared_ptr<PollJob> job) {
  poll_jobs_.Put(id, OwnerOf(context), std::move(job));
}

size_t SessionRegistry::ExpireUnpolledJobs() {
  // Dropping a job interrupts it if it still runs and waits for its thread.
  return poll_jobs_.Sweep().size();
}

arrow::Result<std::shared_ptr<PollJob>> SessionRegistry::GetPollJob(
    const arrow::flight::ServerCallContext& context, const std::string& id) {
  return Owned<PollJob>(
      context, poll_jobs_.Get(id, OwnerOf(context)), "poll descriptor",
      arrow::Status::KeyError(
          "unknown or expired poll descriptor: the query finished and was read, was not polled "
          "within the poll lease of " +
          std::to_string(limits_.poll_lease.count()) +
          " s (then it is stopped), or was never submitted; submit it again"));
}

void SessionRegistry::ForgetPollJob(const arrow::flight::ServerCallContext& context,
                                    const std::string& id) {
  poll_jobs_.Take(id, OwnerOf(context));
}

bool SessionRegistry::CloseSession(const arrow::flight::ServerCallContext& context) {
  const std::string key = SessionKey(context);
  auto found = sessions_.Take(key, OwnerOf(context));
  // Another user's session under the same cookie stays open.
  NoteForeignSession(context, key, found, "; it stays open");
  return found.value != nullptr;
}

void SessionRegistry::Sweep() {
  sessions_.Sweep();
  statements_.Sweep();
  results_.Sweep();
  running_.Sweep();
  for (auto& transaction : transactions_.Sweep()) {
    (void)transaction->connection->Rollback();
    GiveBack(*transaction);
  }
}

}  // namespace hyprstream::flightsql
