#include "host_threads.hpp"

#include <algorithm>
#include <exception>
#include <mutex>

#include "host_suites.hpp"

namespace movingcolor {

void inSlices(int count, int minimum, const std::function<void(int, int)>& slice) {
  unsigned int cpus = 1;
  if (count <= 0) return;
  if (suites.threads == nullptr || suites.threads->multiThreadNumCPUs(&cpus) != kOfxStatOK || cpus < 2 ||
      count < std::max(minimum, 2)) {
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
    slice(0, count);
    return;
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace movingcolor
