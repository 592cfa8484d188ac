// The grants' SQL surface, registered on the engine that hosts table functions:
//   hyprstream_grant(privilege, object, principal)   e.g. ('read', 'memory.main.trades',
//   hyprstream_revoke(privilege, object, principal)        'user:alice')
//   hyprstream_grants()                               every grant in force
// Each returns the grants as rows (privilege, object, principal) and, for grant/revoke,
// whether anything changed; a change is written to `log` (when given) before it is answered,
// and undone in memory if that fails. Only admins may call them (the access policy classifies
// them). The functions share `grants` and `log`.
#pragma once

#include <arrow/status.h>

#include <memory>

#include "access/grant_log.h"
#include "access/grant_set.h"
#include "engine/engine.h"

namespace hyprstream::access {

arrow::Status RegisterGrantFunctions(std::shared_ptr<GrantSet> grants,
                                     std::shared_ptr<GrantLog> log, engine::Engine& host);

}  // namespace hyprstream::access
