#include "controller/store/local/dir_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

namespace rotor::store::local {
namespace fs = std::filesystem;

namespace {
constexpr uint32_t kFileEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_CREATE;

struct RecordFile {
  std::string name;  // empty: not a record (a temporary ".NAME.json.tmp-...", anything else)
  DirWatch::Record record = DirWatch::Record::kRotation;
};

/** "NAME.json" (rotation) or "NAME.agents" (agent journal) -> "NAME" and which. */
RecordFile recordFile(std::string_view file) {
  if (file.empty() || file.front() == '.') return {};
  for (auto [suffix, record] : {std::pair{std::string_view(".json"), DirWatch::Record::kRotation},
                                std::pair{std::string_view(".agents"), DirWatch::Record::kAgents}}) {
    if (file.size() > suffix.size() && file.ends_with(suffix)) {
      return {std::string(file.substr(0, file.size() - suffix.size())), record};
    }
  }
  return {};
}
}  // namespace

StatusOr<std::unique_ptr<DirWatch>> DirWatch::start(const fs::path& stateDirectory, OnChange onChange) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return unavailable(std::string("could not start inotify: ") + std::strerror(errno));
  }
  std::unique_ptr<DirWatch> watch(new DirWatch(fd, std::move(onChange)));
  for (const char* kind : {"rotations", "agents"}) {
    std::error_code ec;
    fs::create_directories(stateDirectory / kind, ec);
    watch->watchTop(stateDirectory / kind);
  }
  watch->thread_ = std::jthread([w = watch.get()](std::stop_token stop) { w->loop(stop); });
  return watch;
}

DirWatch::~DirWatch() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void DirWatch::watchTop(const fs::path& dir) {
  const int wd = inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  if (wd < 0) return;
  namespaceOf_[wd] = "";
  dirOf_[wd] = dir;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) watchNamespace(entry.path(), entry.path().filename().string());
  }
}

void DirWatch::watchNamespace(const fs::path& dir, const std::string& ns) {
  const int wd = inotify_add_watch(fd_, dir.c_str(), kFileEvents | IN_ONLYDIR);
  if (wd < 0) return;
  namespaceOf_[wd] = ns;
  dirOf_[wd] = dir;
  // Files written before the watch existed would otherwise go unnoticed until the next resync.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (RecordFile f = recordFile(entry.path().filename().string()); !f.name.empty()) onChange_({ns, f.name}, f.record);
  }
}

void DirWatch::loop(std::stop_token stop) {
  alignas(inotify_event) char buffer[16 * 1024];
  while (!stop.stop_requested()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::read(fd_, buffer, sizeof(buffer));
    for (ssize_t at = 0; n > 0 && at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      auto ns = namespaceOf_.find(event->wd);
      if (ns == namespaceOf_.end() || event->len == 0) continue;
      const std::string file(event->name);
      if (ns->second.empty()) {
        if (event->mask & IN_ISDIR) watchNamespace(dirOf_[event->wd] / file, file);
      } else if (RecordFile f = recordFile(file); !f.name.empty()) {
        onChange_({ns->second, f.name}, f.record);
      }
    }
  }
}

}  // namespace rotor::store::local
