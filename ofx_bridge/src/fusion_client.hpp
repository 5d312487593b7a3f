// The FuseWindow call: digests, asking which images the server holds, sending
// the rest, and reading the fused frame back, with a deadline on every call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "movingcolor/v1/fusion.grpc.pb.h"

namespace movingcolor {

// One image of a window: planar float32 bytes and what they are.
struct WindowImage {
  v1::Role role = v1::ROLE_UNSPECIFIED;
  int64_t frame = 0;
  std::vector<std::string> channels;
  std::string colorspace;
  std::string bytes;
  std::string sha256;  // of `bytes`; the client fills it where empty
};

struct FusedWindow {
  bool ok = false;
  // The server could not be reached or did not answer in time (as opposed to refusing the request).
  bool unreachable = false;
  // Of those, it was waited for until a deadline (a server silent or too slow to connect), not
  // refused at once (nothing listening, a name that does not resolve).
  bool waited = false;
  // The server answered (it was asked which images it holds) but was still fusing when the time
  // limit ran out.
  bool timedOut = false;
  // The host asked to stop; no message is due.
  bool aborted = false;
  std::string error;
  std::vector<float> rgb;  // planar R, G, B over the window's size, top row first
  // What fusing the frame warned of (ShotDone.summary.warnings: a matte missing the object by more
  // than the band, a band too wide for the frame, ...), for the user to see.
  std::vector<std::string> warnings;
  // What crossed the wire, for logs and tests.
  uint64_t bytesSent = 0;
  int imagesSent = 0;
  int imagesReused = 0;
};

// The longest the first question of a render (FindImages) waits, whatever the Time limit: it is cheap,
// and a server that does not answer it within this is absent or stalled.
constexpr double kFindSeconds = 5.0;

// A connection to one server address; thread-safe (gRPC channels are).
class FusionClient {
 public:
  explicit FusionClient(const std::string& address);
  const std::string& address() const { return address_; }

  // The server's engine names (GetInfo) within `seconds`; empty, with `error` saying why, when it
  // does not answer.
  std::vector<std::string> engines(double seconds, std::string& error);

  // Fuses `setup.render` from `images` of `width` x `height`; `seconds` bounds the whole exchange.
  // `aborted` is polled while the plugin waits for the server: the host may cancel a render.
  // `interactive` (a viewer's render) asks once, without waiting, when the server was found
  // unreachable and has not answered since: each frame of a scrub past a stopped server waited
  // through the retries. A final render waits for a server that is starting, within its limits.
  FusedWindow fuse(const v1::ShotSetup& setup, std::vector<WindowImage>& images, int width, int height,
                   double seconds, const std::function<bool()>& aborted, bool interactive = false);

 private:
  // One FindImages (given `findSeconds` at most) and FuseWindow (and the window again in full if the
  // server lost an image sent by reference); `status` is the last call's.
  FusedWindow attempt(const v1::ShotSetup& setup, const std::vector<WindowImage>& images, int width,
                      int height, std::chrono::system_clock::time_point deadline, double findSeconds,
                      const std::function<bool()>& aborted, bool waitForReady, grpc::Status& status);
  FusedWindow send(const v1::ShotSetup& setup, const std::vector<WindowImage>& images, int width, int height,
                   std::chrono::system_clock::time_point deadline, const std::vector<bool>& reuse,
                   const std::function<bool()>& aborted, grpc::Status& status);
  void prepare(grpc::ClientContext& context, std::chrono::system_clock::time_point deadline) const;
  // One FindImages until `deadline` (waiting for the connection where `waitForReady`), the host's
  // abort polled meanwhile (`stopped` set).
  void findImages(const v1::FindImagesRequest& find, v1::FindImagesResponse& held,
                  std::chrono::system_clock::time_point deadline, bool waitForReady,
                  const std::function<bool()>& aborted, grpc::Status& status, bool& stopped);
  // Asks the server's limits (GetInfo) and keeps its part size where it is smaller than the parts
  // sent now; true when it is (the window is worth sending again). The host's abort is polled while
  // it waits (`stopped` set, false returned).
  bool learnSmallerParts(std::chrono::system_clock::time_point deadline, const std::function<bool()>& aborted,
                         bool& stopped);

  std::string address_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Fusion::Stub> stub_;
  // The size images are sent in: 2 MiB, or a server's smaller parts once one refused a part.
  std::atomic<size_t> partBytes_;
  // The last call found the server unreachable (none has answered since).
  std::atomic<bool> down_{false};
};

// "sha256" of bytes as ImageInfo.sha256 carries it: 64 lowercase hex digits.
std::string sha256Hex(const std::string& bytes);

}  // namespace movingcolor
