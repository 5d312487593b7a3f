#include "call_waiter.hpp"

#include <chrono>

namespace movingcolor {

namespace {
// How often the host is asked whether it wants to stop while the server works.
constexpr std::chrono::milliseconds kAbortPoll(50);
}  // namespace

void* const CallWaiter::kOperation = reinterpret_cast<void*>(1);

CallWaiter::CallWaiter(grpc::ClientContext& context, const std::function<bool()>& aborted)
    : context_(context), aborted_(aborted) {}

CallWaiter::~CallWaiter() {
  queue_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue_.Next(&tag, &ok)) {
  }
}

bool CallWaiter::wait() {
  void* tag = nullptr;
  bool ok = false;
  for (;;) {
    switch (queue_.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + kAbortPoll)) {
      case grpc::CompletionQueue::GOT_EVENT:
        return ok;
      case grpc::CompletionQueue::SHUTDOWN:
        return false;
      case grpc::CompletionQueue::TIMEOUT:
        stopped();
        break;
    }
  }
}

bool CallWaiter::stopped() {
  if (!stopped_ && aborted_()) {
    stopped_ = true;
    context_.TryCancel();
  }
  return stopped_;
}

}  // namespace movingcolor
