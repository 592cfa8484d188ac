#include "flightsql/call_record.h"

#include <arrow/flight/types.h>

namespace hyprstream::flightsql {
namespace fl = arrow::flight;

CallRecord::CallRecord(CallIdentity identity, std::string rpc, std::string peer,
                       std::string bearer_token, Completion on_complete)
    : identity_(std::move(identity)),
      rpc_(std::move(rpc)),
      peer_(std::move(peer)),
      bearer_token_(std::move(bearer_token)),
      on_complete_(std::move(on_complete)) {}

void CallRecord::SendingHeaders(fl::AddCallHeaders* outgoing_headers) {
  if (!bearer_token_.empty())
    outgoing_headers->AddHeader("authorization", "Bearer " + bearer_token_);
}

void CallRecord::CallCompleted(const arrow::Status& status) {
  if (on_complete_) on_complete_(*this, status);
}

void CallRecord::NoteCommand(std::string command, std::string sql) {
  std::lock_guard<std::mutex> lock(mutex_);
  command_ = std::move(command);
  sql_ = std::move(sql);
}

std::string CallRecord::command() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return command_;
}

std::string CallRecord::sql() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sql_;
}

void CallRecord::NoteRefusedHandle(std::string what) {
  std::lock_guard<std::mutex> lock(mutex_);
  refused_handle_ = std::move(what);
}

std::string CallRecord::refused_handle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return refused_handle_;
}

void CallRecord::AddRows(int64_t rows) {
  if (rows < 0) return;
  int64_t current = rows_.load();
  while (!rows_.compare_exchange_weak(current, (current < 0 ? 0 : current) + rows)) {
  }
}

std::string RpcName(fl::FlightMethod method) {
  if (method == fl::FlightMethod::PollFlightInfo) return "PollFlightInfo";
  return fl::ToString(method);
}

CallRecord* CallRecordOf(const fl::ServerCallContext& context) {
  return static_cast<CallRecord*>(context.GetMiddleware(kCallRecordKey));
}

arrow::Status RequireRole(const fl::ServerCallContext& context, Role needed,
                          const std::string& what) {
  CallRecord* record = CallRecordOf(context);
  if (record == nullptr) return arrow::Status::OK();
  const CallIdentity& who = record->identity();
  if (static_cast<int>(who.role) >= static_cast<int>(needed)) return arrow::Status::OK();
  return fl::MakeFlightError(fl::FlightStatusCode::Unauthorized,
                             DenialMessage(who.user, who.role, what, needed));
}

arrow::Status RequireRoleForSql(const fl::ServerCallContext& context,
                                engine::EngineConnection& connection, const std::string& sql,
                                Role at_least) {
  CallRecord* record = CallRecordOf(context);
  if (record == nullptr || record->identity().role == Role::kAdmin) return arrow::Status::OK();
  const bool below_floor = static_cast<int>(record->identity().role) < static_cast<int>(at_least);
  if (below_floor && !LooksLikeTransactionControl(sql)) {
    // Refused whatever the SQL is: do not even ask DuckDB about it.
    return RequireRole(context, at_least, "statement updates");
  }
  ARROW_ASSIGN_OR_RAISE(auto requirement, ClassifySql(connection, sql));
  // Transaction control changes nothing by itself: the floor does not apply to it.
  if (below_floor && requirement.statement_class != StatementClass::kTransaction) {
    return RequireRole(context, at_least, "statement updates");
  }
  return RequireRole(context, requirement.role(), requirement.what);
}

}  // namespace hyprstream::flightsql
