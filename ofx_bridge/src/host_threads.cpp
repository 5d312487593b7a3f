#include "host_threads.hpp"

#include <algorithm>
#include <exception>
#include <mutex>

#include "host_suites.hpp"

namespace movingcolor {

void inSlices(int count, int minimum, const std::function<void(int, int)>& slice) {
  unsigned int cpus = 1;
  if (count <= 0) return;
  // On one of the host's spawned threads the suite may not be called again (hosts refuse it with
  // kOfxStatErrExists): the work stays on this thread.
  if (suites.threads == nullptr || suites.threads->multiThreadIsSpawnedThread() != 0 ||
      suites.threads->multiThreadNumCPUs(&cpus) != kOfxStatOK || cpus < 2 || count < std::max(minimum, 2)) {
    slice(0, count);
    return;
  }
  struct Job {
    const std::function<void(int, int)>* slice;
    int count;
    std::mutex lock;
    std::exception_ptr error;
  } job{&slice, count, {}, nullptr};
  // The host calls this through C: an exception must not leave it, so the first one is kept and
  // rethrown on the calling thread once every slice has returned.
  auto run = [](unsigned int index, unsigned int max, void* arg) {
    auto* j = static_cast<Job*>(arg);
    const int first = int(long(j->count) * index / max), last = int(long(j->count) * (index + 1) / max);
    try {
      if (first < last) (*j->slice)(first, last);
    } catch (...) {
      std::lock_guard<std::mutex> guard(j->lock);
      if (!j->error) j->error = std::current_exception();
    }
  };
  const unsigned int threads = std::min({cpus, 16u, unsigned(count)});
  if (suites.threads->multiThread(run, threads, &job) != kOfxStatOK) {
    // Refused (no threads to launch, or a call the host sees as nested): all of it runs here; a slice
    // that did run writes the same again.
    slice(0, count);
    return;
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace movingcolor
