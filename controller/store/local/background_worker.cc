#include "controller/store/local/background_worker.h"

#include <sys/resource.h>
#include <unistd.h>

namespace rotor::store::local {

BackgroundWorker::BackgroundWorker(Job job)
    : job_(std::move(job)), thread_([this](std::stop_token stop) { loop(stop); }) {}

BackgroundWorker::~BackgroundWorker() {
  thread_.request_stop();
  changed_.notify_all();
}

void BackgroundWorker::request(const api::ObjectKey& key) {
  {
    std::lock_guard lock(mu_);
    requested_.insert(key);
  }
  changed_.notify_all();
}

void BackgroundWorker::drain() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return requested_.empty() && !busy_; });
}

void BackgroundWorker::loop(std::stop_token stop) {
  // On Linux a thread's nice value is its own: only this thread yields to the rest.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  std::unique_lock lock(mu_);
  while (true) {
    changed_.wait(lock, stop, [&] { return !requested_.empty(); });
    if (stop.stop_requested()) return;
    const api::ObjectKey key = *requested_.begin();
    requested_.erase(requested_.begin());
    busy_ = true;
    lock.unlock();
    job_(key);
    lock.lock();
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace rotor::store::local
