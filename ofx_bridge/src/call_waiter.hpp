// Waiting for a gRPC call without deafness to the host: one call's completion queue is waited on in
// short steps, so the host's abort is seen while the plugin waits for the server (a blocking call
// would hold the render until the answer or the deadline).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>

namespace movingcolor {

class CallWaiter {
 public:
  // The tag of the one operation a call has in flight at a time.
  static void* const kOperation;

  // `aborted` is polled on the calling thread: hosts answer abort for their render thread.
  CallWaiter(grpc::ClientContext& context, const std::function<bool()>& aborted);
  // Waits for what is still in flight: every call must have finished (Finish waited for) by then.
  ~CallWaiter();
  CallWaiter(const CallWaiter&) = delete;
  CallWaiter& operator=(const CallWaiter&) = delete;

  grpc::CompletionQueue* queue() { return &queue_; }

  // Waits for the operation in flight; false when it failed (the call is over).
  bool wait();

  // Whether the host asked to stop; the call is cancelled the first time it does.
  bool stopped();

 private:
  grpc::ClientContext& context_;
  const std::function<bool()>& aborted_;
  grpc::CompletionQueue queue_;
  bool stopped_ = false;
};

}  // namespace movingcolor
