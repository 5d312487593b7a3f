#include "fusion_client.hpp"

#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "call_waiter.hpp"

namespace movingcolor {

namespace {

// Parts far under gRPC's 4 MiB default receive limit, as the server's own.
constexpr size_t kPartBytes = 2 * 1024 * 1024;
// gRPC's own refusal of a message over its receiving limit, also RESOURCE_EXHAUSTED: never busy.
constexpr const char* kTooLarge = "larger than max";

// How long the call that asks why a connection failed may take: it never waits for one. Past the
// render's Time limit, a tenth of a second.
constexpr double kCauseSeconds = 1.0;
constexpr double kCauseGraceSeconds = 0.1;

// How long a viewer's render asks a server found down whose connection is not ready: one that is back
// answers within it (on this machine or the studio's network), and a stalled one (a hung process, a
// firewall dropping packets) costs each frame of a scrub this, not FindImages' five seconds.
constexpr double kDownFindSeconds = 0.25;

std::chrono::system_clock::time_point after(double seconds) {
  return std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                                std::chrono::duration<double>(seconds));
}

std::string describe(const grpc::Status& status) {
  return status.error_message().empty() ? "status " + std::to_string(int(status.error_code()))
                                        : status.error_message();
}

// A RESOURCE_EXHAUSTED that is a full job table, worth asking again within the Time limit: the
// server's reason SERVER_BUSY (its ErrorInfo, whose reason travels as plain bytes in the status
// details). A GPU out of memory (DEVICE_MEMORY) is not: asked again at once it runs the engine on
// the GPU again and fails again. A server without reasons is busy by its message, and neither an
// image over its --max-image-mb (an older server's RESOURCE_EXHAUSTED) nor gRPC's message limit.
bool serverBusy(const grpc::Status& status) {
  const std::string& details = status.error_details();
  if (!details.empty()) return details.find("SERVER_BUSY") != std::string::npos;
  const std::string& message = status.error_message();
  return message.find(kTooLarge) == std::string::npos && message.find("max-image-mb") == std::string::npos &&
         message.find("out of memory") == std::string::npos;
}

bool unreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

std::string sha256Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string text(size_t(length) * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    text[2 * i] = hex[digest[i] >> 4];
    text[2 * i + 1] = hex[digest[i] & 15];
  }
  return text;
}

FusionClient::FusionClient(const std::string& address) : address_(address), partBytes_(kPartBytes) {
  if (const char* token = std::getenv("MOVINGCOLOR_TOKEN")) token_ = token;
  grpc::ChannelArguments arguments;
  // A server started after a failed render is found within seconds, not after gRPC's 2-minute backoff.
  // (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS stays at its default: it is the time a connection attempt may
  // take, and a server across a slow network needs more than a fraction of a second; each call's
  // deadline bounds the wait anyway.)
  // At most a second between attempts: a server restarted is connected to within a second of
  // listening (at two, a render could fail its frame well after the server was back).
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  arguments.SetString("grpc.primary_user_agent", "movingcolor-ofx");
  channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  stub_ = v1::Fusion::NewStub(channel_);
}

void FusionClient::prepare(grpc::ClientContext& context,
                           std::chrono::system_clock::time_point deadline) const {
  context.set_deadline(deadline);
  context.AddMetadata("x-movingcolor-client", "ofx");
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
}

bool FusionClient::learnSmallerParts(std::chrono::system_clock::time_point deadline,
                                     const std::function<bool()>& aborted, bool& stopped) {
  grpc::ClientContext context;
  prepare(context, std::min(deadline, after(kFindSeconds)));
  v1::Info info;
  grpc::Status status;
  {
    // Waited for as FindImages is: a server slow to answer must not hold a render the host stopped.
    CallWaiter waiter(context, aborted);
    auto call = stub_->PrepareAsyncGetInfo(&context, v1::GetInfoRequest(), waiter.queue());
    call->StartCall();
    call->Finish(&info, &status, CallWaiter::kOperation);
    waiter.wait();
    stopped = waiter.stopped();
  }
  if (stopped || !status.ok()) return false;
  const size_t serverParts = size_t(info.limits().part_bytes());
  if (serverParts == 0 || serverParts >= partBytes_.load()) return false;
  partBytes_.store(serverParts);
  return true;
}

std::vector<std::string> FusionClient::engines(double seconds, std::string& error) {
  grpc::ClientContext context;
  prepare(context, after(seconds));
  v1::Info info;
  const grpc::Status status = stub_->GetInfo(&context, v1::GetInfoRequest(), &info);
  std::vector<std::string> names;
  if (!status.ok()) {
    error = describe(status);
    return names;
  }
  for (const auto& engine : info.engines()) names.push_back(engine.name());
  if (names.empty()) error = "it lists no engines";
  return names;
}

FusedWindow FusionClient::fuse(const v1::ShotSetup& setup, std::vector<WindowImage>& images, int width,
                               int height, double seconds, const std::function<bool()>& aborted,
                               bool interactive) {
  const auto deadline = after(seconds);
  for (auto& image : images)
    if (image.sha256.empty()) image.sha256 = sha256Hex(image.bytes);
  // A viewer's render past a server found down asks once and shows the Source at once: gRPC goes on
  // reconnecting meanwhile, and the first frame after the server is back fuses.
  const bool askOnce = interactive && down_.load();
  // A final render waits for the connection (within FindImages' limit): a server starting, or
  // restarted, is found instead of failing the frame while gRPC's next reconnection is due.
  const bool waitForReady = !interactive;
  // A busy server (RESOURCE_EXHAUSTED: its job table is full) is asked again until the time limit,
  // and one restarting (UNAVAILABLE) a few times within two seconds: a render given up at once would
  // show, or bake into a final render, the un-fused Source for a frame the server can fuse.
  double wait = 0.25;
  int unavailable = 0;
  bool askedLimits = false;
  for (;;) {
    grpc::Status status;
    // The parts this attempt sends: another render thread may learn the server's meanwhile.
    const size_t sent = partBytes_.load();
    // GetState(true) also starts a connection where none is under way, for the next frame.
    const double findSeconds =
        askOnce && channel_->GetState(true) != GRPC_CHANNEL_READY ? kDownFindSeconds : kFindSeconds;
    FusedWindow result =
        attempt(setup, images, width, height, deadline, findSeconds, aborted, waitForReady, status);
    if (!result.aborted) down_.store(result.unreachable);
    if (result.ok || result.aborted || (askOnce && result.unreachable)) return result;
    // A part over a server's message limit (serve --max-message-mb under 2.1): sent again, at once,
    // in the server's own parts.
    const bool tooLarge = status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                          status.error_message().find(kTooLarge) != std::string::npos;
    if (tooLarge && !askedLimits) {
      askedLimits = true;
      bool stopped = false;
      if (partBytes_.load() < sent || learnSmallerParts(deadline, aborted, stopped)) continue;
      if (stopped) {
        result.aborted = true;
        return result;
      }
    }
    const bool busy = status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && serverBusy(status);
    const bool restarting = status.error_code() == grpc::StatusCode::UNAVAILABLE && ++unavailable <= 3;
    if (!(busy || restarting) || after(wait) >= deadline) return result;
    for (const auto until = after(wait); std::chrono::system_clock::now() < until;) {
      if (aborted()) {
        result.aborted = true;
        return result;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    wait = std::min(wait * 2, 2.0);
  }
}

void FusionClient::findImages(const v1::FindImagesRequest& find, v1::FindImagesResponse& held,
                              std::chrono::system_clock::time_point deadline, bool waitForReady,
                              const std::function<bool()>& aborted, grpc::Status& status, bool& stopped) {
  grpc::ClientContext context;
  prepare(context, deadline);
  context.set_wait_for_ready(waitForReady);
  CallWaiter waiter(context, aborted);
  auto call = stub_->PrepareAsyncFindImages(&context, find, waiter.queue());
  call->StartCall();
  call->Finish(&held, &status, CallWaiter::kOperation);
  waiter.wait();
  stopped = waiter.stopped();
}

FusedWindow FusionClient::attempt(const v1::ShotSetup& setup, const std::vector<WindowImage>& images,
                                  int width, int height, std::chrono::system_clock::time_point deadline,
                                  double findSeconds, const std::function<bool()>& aborted, bool waitForReady,
                                  grpc::Status& status) {
  v1::FindImagesRequest find;
  for (const auto& image : images) find.add_sha256(image.sha256);
  v1::FindImagesResponse held;
  bool stopped = false;
  findImages(find, held, std::min(deadline, after(findSeconds)), waitForReady, aborted, status, stopped);
  // Waited out without a connection: asked once more without waiting, for gRPC's own reason (a
  // refused connection, a missing socket, a name that does not resolve) in place of "Deadline
  // Exceeded", which says nothing of why.
  const bool waitedOut = waitForReady && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
                         channel_->GetState(false) != GRPC_CHANNEL_READY;
  if (waitedOut && !stopped) {
    grpc::Status cause;
    // What is left of the render's Time limit, and a tenth of a second where the wait spent it (a
    // Time limit under five seconds; a call past its deadline says only that): a failed connection
    // answers at once, and a server that accepts and never speaks keeps the render no longer.
    const auto causeDeadline = std::min(after(kCauseSeconds), std::max(deadline, after(kCauseGraceSeconds)));
    findImages(find, held, causeDeadline, false, aborted, cause, stopped);
    // Its reason; or, where the server came up meanwhile, its answer (an older server's
    // UNIMPLEMENTED, a busy one's RESOURCE_EXHAUSTED, a token refused), taken as FindImages'.
    if (cause.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) status = cause;
  }
  if (stopped) {
    FusedWindow aborted;
    aborted.aborted = true;
    return aborted;
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // A server from before the window cache: it holds nothing and ignores the digests.
    held.clear_held();
  } else if (!status.ok()) {
    FusedWindow failed;
    failed.unreachable = unreachable(status);
    failed.waited = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    failed.error = describe(status);
    return failed;
  }
  const std::set<std::string> holds(held.held().begin(), held.held().end());
  std::vector<bool> reuse;
  for (const auto& image : images) reuse.push_back(holds.count(image.sha256) > 0);

  FusedWindow result = send(setup, images, width, height, deadline, reuse, aborted, status);
  if (!result.ok && status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
      std::find(reuse.begin(), reuse.end(), true) != reuse.end()) {
    // An image sent by reference that the server no longer holds as sent (evicted between
    // FindImages and FuseWindow, or held with another layout of the same bytes): every image in
    // full, once. The server's other refusals are INVALID_ARGUMENT.
    result = send(setup, images, width, height, deadline, std::vector<bool>(images.size(), false), aborted,
                  status);
  }
  return result;
}

FusedWindow FusionClient::send(const v1::ShotSetup& setup, const std::vector<WindowImage>& images, int width,
                               int height, std::chrono::system_clock::time_point deadline,
                               const std::vector<bool>& reuse, const std::function<bool()>& aborted,
                               grpc::Status& status) {
  FusedWindow result;
  grpc::ClientContext context;
  prepare(context, deadline);
  CallWaiter waiter(context, aborted);
  auto stream = stub_->PrepareAsyncFuseWindow(&context, waiter.queue());
  stream->StartCall(CallWaiter::kOperation);
  bool writing = waiter.wait();
  auto write = [&](const v1::FuseShotRequest& request) {
    stream->Write(request, CallWaiter::kOperation);
    return waiter.wait();
  };
  if (writing) {
    v1::FuseShotRequest request;
    *request.mutable_setup() = setup;
    writing = write(request);
  }
  for (size_t i = 0; writing && i < images.size(); ++i) {
    const WindowImage& image = images[i];
    v1::ImageInfo info;
    info.set_encoding(v1::ENCODING_RAW);
    info.set_width(uint32_t(width));
    info.set_height(uint32_t(height));
    for (const auto& channel : image.channels) info.add_channels(channel);
    info.set_sample_type(v1::SAMPLE_TYPE_FLOAT);
    info.set_colorspace(image.colorspace);
    info.set_byte_size(image.bytes.size());
    info.set_sha256(image.sha256);
    info.set_cached(reuse[i]);
    size_t offset = 0;
    do {
      if (waiter.stopped()) {
        writing = false;
        break;
      }
      v1::FuseShotRequest part;
      v1::ImagePart* p = part.mutable_part();
      p->set_role(image.role);
      p->set_frame(image.frame);
      if (offset == 0) *p->mutable_info() = info;
      const size_t size = reuse[i] ? 0 : std::min(partBytes_.load(), image.bytes.size() - offset);
      p->set_data(image.bytes.data() + offset, size);
      offset += size;
      result.bytesSent += size;
      writing = write(part);
    } while (writing && !reuse[i] && offset < image.bytes.size());
    (reuse[i] ? result.imagesReused : result.imagesSent) += 1;
  }
  if (writing) {
    stream->WritesDone(CallWaiter::kOperation);
    waiter.wait();
  }

  const size_t expected = size_t(width) * size_t(height) * 3 * sizeof(float);
  std::string fused;
  bool done = false;
  v1::FuseShotResponse response;
  for (;;) {
    stream->Read(&response, CallWaiter::kOperation);
    if (!waiter.wait()) break;
    if (response.has_part()) {
      const v1::ImagePart& part = response.part();
      if (part.has_info()) {
        const v1::ImageInfo& info = part.info();
        if (info.encoding() != v1::ENCODING_RAW || info.sample_type() != v1::SAMPLE_TYPE_FLOAT ||
            info.channels_size() != 3 || int(info.width()) != width || int(info.height()) != height) {
          context.TryCancel();
          result.error = "the server answered with an image that is not " + std::to_string(width) + "x" +
                         std::to_string(height) + " float RGB; update the server or the plugin";
          break;
        }
        fused.reserve(expected);
      }
      // Never more than the frame asked for, whatever a faulty server streams.
      if (part.data().size() > expected - fused.size()) {
        context.TryCancel();
        result.error = "the server answered with more than the " + std::to_string(expected) +
                       " bytes of one float RGB frame; update the server or the plugin";
        break;
      }
      fused.append(part.data());
    } else if (response.has_done()) {
      done = true;
      const auto& warnings = response.done().summary().warnings();
      result.warnings.assign(warnings.begin(), warnings.end());
    }
  }
  stream->Finish(&status, CallWaiter::kOperation);
  waiter.wait();
  result.aborted = waiter.stopped();
  if (!result.error.empty() || result.aborted) return result;
  if (!status.ok()) {
    // The server answered FindImages just before: a deadline now is its work outlasting the limit.
    result.timedOut = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    result.unreachable = !result.timedOut && unreachable(status);
    result.error = describe(status);
    return result;
  }
  if (!done || fused.size() != expected) {
    result.error = "the server's answer ended early (" + std::to_string(fused.size()) + " of " +
                   std::to_string(expected) + " bytes); check the server's log";
    return result;
  }
  result.rgb.resize(expected / sizeof(float));
  std::memcpy(result.rgb.data(), fused.data(), expected);
  result.ok = true;
  return result;
}

}  // namespace movingcolor
