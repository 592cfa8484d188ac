// GrantSet: the grants in force — those of the config file, then those added and revoked at
// run time by admins (hyprstream_grant / hyprstream_revoke; kept in memory, so a restart goes
// back to the config's). Grants are enforced once any has been defined (config or run time)
// and stay enforced if all are revoked: deny by default. Thread-safe: one shared_mutex, held
// only to copy or edit the small list.
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "access/grant.h"

namespace hyprstream::access {

class GrantSet {
 public:
  explicit GrantSet(std::vector<Grant> grants = {});

  // Whether grants are enforced (some grant has been defined).
  bool enforced() const;
  // Adds `grant`; false when it was already there.
  bool Add(const Grant& grant);
  // Removes `grant`; false when there was no such grant.
  bool Remove(const Grant& grant);
  std::vector<Grant> List() const;

  // Whether `subject` holds `privilege` on `table` (always true while not enforced).
  bool Allows(const Subject& subject, Privilege privilege, const QualifiedTable& table) const;
  // Whether `subject` may read the results of window `name` (a window:NAME grant).
  bool AllowsWindow(const Subject& subject, const std::string& name) const;
  // Whether `subject` may read some table of `catalog` (of `schema`, when given): the
  // catalogs and schemas metadata shows.
  bool MayReadIn(const Subject& subject, const std::string& catalog,
                 const std::optional<std::string>& schema) const;

 private:
  mutable std::shared_mutex mutex_;
  std::vector<Grant> grants_;  // guarded by mutex_
  bool enforced_ = false;      // guarded by mutex_
};

}  // namespace hyprstream::access
