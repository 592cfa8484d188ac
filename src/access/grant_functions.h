// The grants' SQL surface, registered on the engine that hosts table functions:
//   hyprstream_grant(privilege, object, principal)   e.g. ('read', 'memory.main.trades',
//   hyprstream_revoke(privilege, object, principal)        'user:alice')
//   hyprstream_grants()                               every grant in force
// Each returns the grants as rows (privilege, object, principal) and, for grant/revoke,
// whether anything changed. Only admins may call them (the access policy classifies them);
// each calls into `grants`, which must outlive every query on `host`.
#pragma once

#include <arrow/status.h>

#include "access/grant_set.h"
#include "engine/engine.h"

namespace hyprstream::access {

arrow::Status RegisterGrantFunctions(GrantSet* grants, engine::Engine& host);

}  // namespace hyprstream::access
