#include "reconcilers/windows.h"

#include <map>
#include <mutex>

#include "controller/api/cron.h"
#include "controller/common/time_zone.h"

namespace rotor::reconcilers {
namespace {

using std::chrono::minutes;

/** Zones are read once per process: tzdata does not change under a running controller. */
StatusOr<TimeZone> zoneNamed(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, TimeZone, std::less<>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(name); it != cache.end()) {
    return it->second;
  }
  auto zone = TimeZone::load(name);
  if (!zone.ok()) {
    return invalidArgument(zone.status().message());
  }
  cache.emplace(name, *zone);
  return *zone;
}

bool opensAt(const api::CronSchedule& cron, const TimeZone& zone, SystemTime minute) {
  const CivilTime c = zone.toCivil(minute);
  return cron.matches(c.minute, c.hour, c.day, c.month, c.weekday);
}

}  // namespace

StatusOr<WindowState> evaluateWindow(const api::MaintenanceWindowSpec& window, SystemTime now) {
  ASSIGN_OR_RETURN(api::CronSchedule cron, api::CronSchedule::parse(window.schedule));
  ASSIGN_OR_RETURN(TimeZone zone, zoneNamed(window.timeZone));
  const SystemTime thisMinute = std::chrono::floor<minutes>(now);
  WindowState state;
  // The latest opening minute within (now - duration, now] decides whether a window is open.
  const auto lookBack = std::chrono::ceil<minutes>(window.duration);
  for (minutes back{0}; back < lookBack; ++back) {
    const SystemTime opening = thisMinute - back;
    if (opening + window.duration > now && opensAt(cron, zone, opening)) {
      state.open = true;
      state.closesAt = opening + window.duration;
      return state;
    }
  }
  constexpr auto kHorizon = minutes(60 * 24 * 366);
  for (minutes ahead{1}; ahead <= kHorizon; ++ahead) {
    if (opensAt(cron, zone, thisMinute + ahead)) {
      state.opensAt = thisMinute + ahead;
      return state;
    }
  }
  return failedPrecondition("maintenance window \"" + window.schedule + "\" never opens in the coming year");
}

}  // namespace rotor::reconcilers
