#include "access/grant_functions.h"

#include <arrow/builder.h>
#include <arrow/record_batch.h>

#include <mutex>

namespace hyprstream::access {
namespace {

std::shared_ptr<arrow::Schema> GrantSchema(bool with_changed) {
  arrow::FieldVector fields = {arrow::field("privilege", arrow::utf8()),
                               arrow::field("object", arrow::utf8()),
                               arrow::field("principal", arrow::utf8())};
  if (with_changed) fields.push_back(arrow::field("changed", arrow::boolean()));
  return arrow::schema(std::move(fields));
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> GrantRows(const std::vector<Grant>& grants,
                                                             std::optional<bool> changed) {
  arrow::StringBuilder privilege, object, principal;
  arrow::BooleanBuilder changed_builder;
  for (const Grant& grant : grants) {
    ARROW_RETURN_NOT_OK(privilege.Append(std::string(PrivilegeName(grant.privilege))));
    ARROW_RETURN_NOT_OK(object.Append(grant.object.ToString()));
    ARROW_RETURN_NOT_OK(principal.Append(grant.principal.ToString()));
    if (changed) ARROW_RETURN_NOT_OK(changed_builder.Append(*changed));
  }
  arrow::ArrayVector columns(changed ? 4 : 3);
  ARROW_RETURN_NOT_OK(privilege.Finish(&columns[0]));
  ARROW_RETURN_NOT_OK(object.Finish(&columns[1]));
  ARROW_RETURN_NOT_OK(principal.Finish(&columns[2]));
  if (changed) ARROW_RETURN_NOT_OK(changed_builder.Finish(&columns[3]));
  return arrow::RecordBatch::Make(GrantSchema(changed.has_value()),
                                  static_cast<int64_t>(grants.size()), std::move(columns));
}

// What grant and revoke share: the grants, the log, and a mutex that keeps a change and its
// log entry together.
struct Shared {
  std::shared_ptr<GrantSet> grants;
  std::shared_ptr<GrantLog> log;
  std::mutex mutex;
};

// hyprstream_grant / hyprstream_revoke: one row, the grant and whether it changed anything.
engine::TableFunctionSpec ChangeFunction(std::shared_ptr<Shared> shared, std::string name,
                                         bool add) {
  engine::TableFunctionSpec spec;
  spec.name = std::move(name);
  spec.positional_parameters = 3;
  spec.schema = [](const engine::TableFunctionArgs&) { return GrantSchema(true); };
  spec.rows = [shared, add](const engine::TableFunctionArgs& args)
      -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
    ARROW_ASSIGN_OR_RAISE(auto grant, Grant::Parse(args.positional.at(0), args.positional.at(1),
                                                   args.positional.at(2)));
    std::lock_guard<std::mutex> lock(shared->mutex);
    GrantSet& grants = *shared->grants;
    const bool changed = add ? grants.Add(grant) : grants.Remove(grant);
    if (changed && shared->log) {
      arrow::Status logged = shared->log->Append(GrantChange{add, grant});
      if (!logged.ok()) {
        add ? grants.Remove(grant) : grants.Add(grant);
        return logged.WithMessage("the grant change was not kept (nothing changed): ",
                                  logged.message());
      }
    }
    return GrantRows({grant}, changed);
  };
  return spec;
}

}  // namespace

arrow::Status RegisterGrantFunctions(std::shared_ptr<GrantSet> grants,
                                     std::shared_ptr<GrantLog> log, engine::Engine& host) {
  auto shared = std::make_shared<Shared>();
  shared->grants = grants;
  shared->log = std::move(log);
  ARROW_RETURN_NOT_OK(host.RegisterTableFunction(ChangeFunction(shared, "hyprstream_grant", true)));
  ARROW_RETURN_NOT_OK(
      host.RegisterTableFunction(ChangeFunction(shared, "hyprstream_revoke", false)));
  engine::TableFunctionSpec list;
  list.name = "hyprstream_grants";
  list.schema = [](const engine::TableFunctionArgs&) { return GrantSchema(false); };
  list.rows = [grants](const engine::TableFunctionArgs&) {
    return GrantRows(grants->List(), std::nullopt);
  };
  return host.RegisterTableFunction(std::move(list));
}

}  // namespace hyprstream::access
