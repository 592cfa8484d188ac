#include "access/grant_set.h"

#include <algorithm>
#include <mutex>

namespace hyprstream::access {

GrantSet::GrantSet(std::vector<Grant> grants) : grants_(std::move(grants)) {
  enforced_ = !grants_.empty();
}

bool GrantSet::enforced() const {
  std::shared_lock lock(mutex_);
  return enforced_;
}

bool GrantSet::Add(const Grant& grant) {
  std::unique_lock lock(mutex_);
  enforced_ = true;
  if (std::find(grants_.begin(), grants_.end(), grant) != grants_.end()) return false;
  grants_.push_back(grant);
  return true;
}

bool GrantSet::Remove(const Grant& grant) {
  std::unique_lock lock(mutex_);
  auto it = std::find(grants_.begin(), grants_.end(), grant);
  if (it == grants_.end()) return false;
  grants_.erase(it);
  return true;
}

std::vector<Grant> GrantSet::List() const {
  std::shared_lock lock(mutex_);
  return grants_;
}

bool GrantSet::Allows(const Subject& subject, Privilege privilege,
                      const QualifiedTable& table) const {
  std::shared_lock lock(mutex_);
  if (!enforced_) return true;
  return std::any_of(grants_.begin(), grants_.end(), [&](const Grant& grant) {
    return grant.privilege == privilege && subject.Is(grant.principal) &&
           grant.object.Covers(table);
  });
}

bool GrantSet::AllowsWindow(const Subject& subject, const std::string& name) const {
  std::shared_lock lock(mutex_);
  if (!enforced_) return true;
  return std::any_of(grants_.begin(), grants_.end(), [&](const Grant& grant) {
    return grant.privilege == Privilege::kRead && subject.Is(grant.principal) &&
           grant.object.CoversWindow(name);
  });
}

bool GrantSet::MayReadIn(const Subject& subject, const std::string& catalog,
                         const std::optional<std::string>& schema) const {
  std::shared_lock lock(mutex_);
  if (!enforced_) return true;
  return std::any_of(grants_.begin(), grants_.end(), [&](const Grant& grant) {
    return grant.privilege == Privilege::kRead && subject.Is(grant.principal) &&
           grant.object.MayCover(catalog, schema);
  });
}

}  // namespace hyprstream::access
