#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "clips.hpp"
#include "effect.hpp"
#include "fusion_client.hpp"
#include "host_suites.hpp"
#include "host_threads.hpp"
#include "images.hpp"
#include "instance.hpp"
#include "ofx/names.h"
#include "settings.hpp"

namespace movingcolor {

namespace {

// A render at `time` is fused as frame round(time) of a window whose every frame is fetched at the
// same fraction past its own number (`offset`, time - round(time)): a sub-frame render (motion blur
// downstream, frame blending) gets colour and alpha from the same moment.
double subframeOffset(OfxTime time) { return time - double(std::llround(time)); }

// The frames a render at `time` reads, by number: `radius` each side, fetched within the Source
// clip's range.
std::vector<int64_t> windowFrames(OfxImageClipHandle source, OfxTime time, int radius) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->clipGetPropertySet(source, &props);
  const int64_t target = std::llround(time);
  const double offset = subframeOffset(time);
  int64_t first = target - radius, last = target + radius;
  if (propDimension(props, kOfxImageEffectPropFrameRange) == 2) {
    const double rangeFirst = propDouble(props, kOfxImageEffectPropFrameRange, 0);
    const double rangeLast = propDouble(props, kOfxImageEffectPropFrameRange, 1);
    first = std::max<int64_t>(first, int64_t(std::ceil(rangeFirst - offset - 1e-9)));
    last = std::min<int64_t>(last, int64_t(std::floor(rangeLast - offset + 1e-9)));
  }
  std::vector<int64_t> frames;
  for (int64_t frame = std::min(first, target); frame <= std::max(last, target); ++frame)
    frames.push_back(frame);
  return frames;
}

OfxStatus refuse(OfxImageEffectHandle effect, Instance* instance, const std::string& problem,
                 const std::string& kind = "") {
  if (instance != nullptr) instance->report(effect, kOfxMessageError, "MovingColor: " + problem, kind);
  return kOfxStatFailed;
}

std::string frameName(int64_t frame) { return "frame " + std::to_string(frame); }

// The most one render's packed window may take (plates, mattes and graded plates as planar float):
// at 4K a window of radius 31 held about 14 GB, on each render thread of the host.
constexpr uint64_t kWindowBudgetBytes = uint64_t(2) << 30;

std::string sizeText(const OfxRectI& rect) {
  return std::to_string(rect.x2 - rect.x1) + "x" + std::to_string(rect.y2 - rect.y1);
}

std::string placeText(const OfxRectI& rect) {
  return sizeText(rect) + " at (" + std::to_string(rect.x1) + ", " + std::to_string(rect.y1) + ")";
}

// Appends the images of one window frame to `images`: the plate, and the matte and graded plate when
// connected, fetched at `frame` + `offset`. Returns what is wrong, or ""; `absent` when the host has
// no image of a clip there; `fix` (what to do) when a Matte or Graded image does not cover the
// Source's `rect` (another resolution: a half-res roto on a UHD plate), which would be sent
// zero-padded or cropped, the matte in a corner of the plate. A host may hand one, whatever the
// plugin says of multiple resolutions.
std::string windowFrame(const Clips& clips, int64_t frame, double offset, const OfxRectI& rect,
                        const Settings& settings, std::vector<WindowImage>& images, bool& absent,
                        std::string& fix) {
  struct Input {
    OfxImageClipHandle clip;
    const char* name;
    v1::Role role;
  };
  std::vector<Input> inputs{{clips.source, kSourceClip, v1::ROLE_PLATE}};
  if (clips.matteConnected) inputs.push_back({clips.matte, kMatteClip, v1::ROLE_MATTE});
  if (clips.gradedConnected) inputs.push_back({clips.graded, kGradedClip, v1::ROLE_GRADED});
  std::vector<WindowImage> found;
  for (const Input& input : inputs) {
    ClipImage image(input.clip, double(frame) + offset);
    const std::string problem = image.problem(input.name, input.role == v1::ROLE_MATTE);
    if (!problem.empty()) {
      absent = !image.valid();
      return problem + " (" + frameName(frame) + ")";
    }
    const OfxRectI& bounds = image.bounds();
    if (input.role != v1::ROLE_PLATE &&
        (bounds.x1 != rect.x1 || bounds.y1 != rect.y1 || bounds.x2 != rect.x2 || bounds.y2 != rect.y2)) {
      const std::string what = input.role == v1::ROLE_MATTE ? "the matte" : "the graded plate";
      fix = "MovingColor fuses " + what + " over the plate pixel for pixel: render " + what +
            " at the plate's size (reformat it to the Source's format)";
      // The sizes tell most apart; the positions where the sizes are the same.
      const bool sameSize = sizeText(bounds) == sizeText(rect);
      const std::string given = sameSize ? placeText(bounds) : sizeText(bounds);
      const std::string wanted = sameSize ? placeText(rect) : sizeText(rect);
      return std::string("the ") + input.name + " image is " + given + " where the Source is " + wanted +
             " (" + frameName(frame) + ")";
    }
    WindowImage packed{input.role, frame, {"R", "G", "B"}, settings.colorspace, {}, {}};
    if (input.role == v1::ROLE_MATTE) {
      packed.channels = {"A"};
      packed.colorspace.clear();
      packed.bytes = planar(image, rect, 3, 1);
    } else {
      // Without a Matte clip the Source's alpha is the matte, and travels with the plate.
      if (input.role == v1::ROLE_PLATE && !clips.matteConnected) packed.channels.push_back("A");
      packed.bytes = planar(image, rect, 0, int(packed.channels.size()));
    }
    found.push_back(std::move(packed));
  }
  for (auto& image : found) images.push_back(std::move(image));
  return "";
}

// What a window of `radius` at `width` x `height` is over the memory one render may hold, or "": every
// frame's images are packed (planar float) and held until the server answers, since a busy server is
// asked again and one that lost an image is sent the window again. Judged for a whole window, whatever
// the clip's length, so a radius that fits fits at every frame.
std::string overBudget(int radius, int width, int height, const Clips& clips) {
  // The plate with the matte (its own image, or the plate's alpha), and the graded plate.
  const uint64_t channels = 4 + (clips.gradedConnected ? 3 : 0);
  const uint64_t frameBytes = uint64_t(width) * uint64_t(height) * channels * sizeof(float);
  const uint64_t frames = 2 * uint64_t(radius) + 1;
  if (frames * frameBytes <= kWindowBudgetBytes) return "";
  const auto gib = [](uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f GiB", double(bytes) / double(uint64_t(1) << 30));
    return std::string(text);
  };
  const std::string sent = clips.gradedConnected ? "plate, matte and graded plate" : "plate and matte";
  const std::string problem = "a Window radius of " + std::to_string(radius) + " sends " +
                              std::to_string(frames) + " frames of " + std::to_string(width) + "x" +
                              std::to_string(height) + " (" + sent + ", " + gib(frameBytes) +
                              " a frame): " + gib(frames * frameBytes) + " held for one render, over the " +
                              gib(kWindowBudgetBytes) + " it may hold";
  const uint64_t fitting = kWindowBudgetBytes / frameBytes;
  if (fitting == 0) return problem + ": render at a lower resolution (a proxy) or a smaller format";
  return problem + ": set Window radius to " + std::to_string((fitting - 1) / 2) + " or less";
}

// What a frame was rendered with besides its time, as far as it changes the frame: a frame shown
// un-fused counts as rendered again only by a render at the same time with the same.
std::string renderedWith(const Settings& settings, const Clips& clips, double scale) {
  return settings.engine + "|" + (clips.gradedConnected ? std::string("graded") : cdlText(settings)) + "|" +
         bandText(settings, scale) + "|" + settings.colorspace + "|" + std::to_string(settings.windowRadius) +
         "|" + (clips.matteConnected ? "matte" : "alpha") + "|" + std::to_string(scale);
}

// Fills each image's digest, the images spread over the host's threads: hashing a 1080p window
// on one thread takes a tenth of a second or more.
void digest(std::vector<WindowImage>& images) {
  inSlices(int(images.size()), 2, [&images](int first, int last) {
    for (int i = first; i < last; ++i) images[size_t(i)].sha256 = sha256Hex(images[size_t(i)].bytes);
  });
}

}  // namespace

OfxStatus createInstance(OfxImageEffectHandle effect) {
  createInstanceData(effect);
  syncEngineName(effect, false);
  return kOfxStatOK;
}

OfxStatus destroyInstance(OfxImageEffectHandle effect) { return destroyInstanceData(effect); }

OfxStatus instanceChanged(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  // A user's edit is checked at once, so a bad value is named where it was typed, not at render.
  const std::shared_ptr<Instance> instance = instanceOf(effect);
  // The user's own change of a parameter or a clip has the host render every frame again: frames shown
  // un-fused leave its cache. (A change for another reason, a time change say, renders nothing again.)
  const bool userEdit = propString(inArgs, kOfxPropChangeReason) == kOfxChangeUserEdited;
  if (propString(inArgs, kOfxPropType) != kOfxTypeParameter) {
    if (instance != nullptr && userEdit && propString(inArgs, kOfxPropType) == kOfxTypeClip)
      instance->edited(effect, true);
    return kOfxStatReplyDefault;
  }
  if (propString(inArgs, kOfxPropName) == param::kEngine) syncEngineName(effect, true);
  const std::string problem = check(readSettings(effect, propDouble(inArgs, kOfxPropTime)));
  if (problem.empty()) {
    if (instance != nullptr) instance->edited(effect, userEdit);
    return kOfxStatOK;
  }
  refuse(effect, instance.get(), problem);
  return kOfxStatOK;
}

OfxStatus getFramesNeeded(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs,
                          OfxPropertySetHandle outArgs) {
  const OfxTime time = propDouble(inArgs, kOfxPropTime);
  const Settings settings = readSettings(effect, time);
  const int radius = std::min(std::max(settings.windowRadius, 0), kMaxWindowRadius);
  const Clips clips = clipsOf(effect);
  const std::vector<int64_t> frames = windowFrames(clips.source, time, radius);
  const double offset = subframeOffset(time);
  for (const char* name : {kSourceClip, kMatteClip, kGradedClip}) {
    const std::string property = std::string(kOfxImageClipPropFrameRange) + "_" + name;
    setDouble(outArgs, property.c_str(), double(frames.front()) + offset, 0);
    setDouble(outArgs, property.c_str(), double(frames.back()) + offset, 1);
  }
  return kOfxStatOK;
}

OfxStatus render(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  // Held for the whole render: a host may destroy the instance meanwhile.
  const std::shared_ptr<Instance> holder = instanceOf(effect);
  if (holder == nullptr) return kOfxStatErrBadHandle;
  Instance* instance = holder.get();
  const OfxTime time = propDouble(inArgs, kOfxPropTime);
  OfxRectI window;
  for (int i = 0; i < 4; ++i) (&window.x1)[i] = propInt(inArgs, kOfxImageEffectPropRenderWindow, i);
  const double scale = propDouble(inArgs, kOfxImageEffectPropRenderScale, 0, 1.0);

  const Clips clips = clipsOf(effect);
  ClipImage output(clips.output, time), source(clips.source, time);
  for (const auto& [image, name] :
       {std::pair<const ClipImage*, const char*>{&output, kOutputClip}, {&source, kSourceClip}}) {
    const std::string problem = image->problem(name);
    if (!problem.empty()) return refuse(effect, instance, problem);
  }
  const Settings settings = readSettings(effect, time);
  const std::string problem = check(settings);
  if (!problem.empty()) return refuse(effect, instance, problem);

  // A final render (a render queue, a farm, Deliver) fails the frame: the un-fused Source in its place
  // would be baked in as if fused. An interactive one shows the Source, with a warning. A host that
  // does not say which it is gets the final render's answer: a failed frame shows, a Source baked
  // into a delivery does not.
  const bool interactive = propInt(inArgs, kOfxImageEffectPropInteractiveRenderStatus, 0, 0) != 0;
  const std::string shown = interactive ? "showing the un-fused Source" : "the frame is not rendered";
  const std::string renderedAs = renderedWith(settings, clips, scale);
  // A frame that cannot be fused (`failure`, with what to do): failed in a final render, the Source in a
  // viewer, with a warning shown once for each `kind` of failure (where a host shows a box for each
  // message).
  const auto unfused = [&](const std::string& failure, const std::string& kind) {
    if (!interactive) return refuse(effect, instance, failure, kind);
    copySource(output, window, source);
    // A warning, not an error: the host may go on (an error tells it the node cannot proceed), and the
    // frame it gets is the Source's. It stays up until this frame fuses (Instance::fused).
    instance->shownUnfused(effect, time, renderedAs,
                           "MovingColor: " + failure +
                               " Frames shown un-fused stay in the host's cache: once they can be fused, "
                               "render them again (touch a parameter, or clear the host's render cache).",
                           kind);
    return kOfxStatOK;
  };

  // Every frame of the window is sent at the target's size, over the target Source's bounds.
  const OfxRectI rect = source.bounds();
  const int width = rect.x2 - rect.x1, height = rect.y2 - rect.y1;
  if (width <= 0 || height <= 0) return refuse(effect, instance, "the Source image is empty");
  const std::string tooLarge = overBudget(settings.windowRadius, width, height, clips);
  if (!tooLarge.empty()) return refuse(effect, instance, tooLarge);
  const std::vector<int64_t> frames = windowFrames(clips.source, time, settings.windowRadius);
  const int64_t target = std::llround(time);
  const double offset = subframeOffset(time);

  std::vector<WindowImage> images;
  bool absent = false;
  std::string fix;
  const std::string missing = windowFrame(clips, target, offset, rect, settings, images, absent, fix);
  if (!fix.empty()) return unfused(missing + "; " + shown + ". " + fix + ".", "mismatched");
  if (!missing.empty()) return refuse(effect, instance, missing);
  // A render the user stops (a scrub moving on) stops between the window's frames too: fetching and
  // packing a wide window at 4K takes seconds before the call.
  const auto stopped = [effect, instance] {
    return instance->destroyed() || suites.effects->abort(effect) != 0;
  };
  // Neighbours outward from the target: one the host cannot give ends the window on its side, as
  // the clip's ends do, so the frames sent stay consecutive (a frame beyond a gap would be fused as
  // the neighbour missing).
  for (const int64_t step : {int64_t(-1), int64_t(1)}) {
    for (int64_t frame = target + step; std::find(frames.begin(), frames.end(), frame) != frames.end();
         frame += step) {
      if (stopped()) return kOfxStatFailed;
      const std::string bad = windowFrame(clips, frame, offset, rect, settings, images, absent, fix);
      if (bad.empty()) continue;
      if (!fix.empty()) return unfused(bad + "; " + shown + ". " + fix + ".", "mismatched");
      if (!absent) return refuse(effect, instance, bad);
      if (std::getenv("MOVINGCOLOR_OFX_LOG") != nullptr) {
        std::fprintf(stderr, "movingcolor-ofx: frame %lld: the window ends before %s\n",
                     static_cast<long long>(target), bad.c_str());
      }
      break;
    }
  }

  digest(images);
  if (stopped()) return kOfxStatFailed;

  v1::ShotSetup setup;
  setup.mutable_render()->set_first(target);
  setup.mutable_render()->set_last(target);
  if (clips.gradedConnected) {
    setup.set_graded(true);
  } else {
    setup.mutable_grade()->set_text(cdlText(settings));
  }
  setup.set_matte(clips.matteConnected ? v1::MATTE_SOURCE_FRAMES : v1::MATTE_SOURCE_PLATE_ALPHA);
  setup.set_engine(settings.engine);
  setup.set_band(bandText(settings, scale));
  if (!settings.colorspace.empty()) setup.set_out_colorspace(settings.colorspace);
  setup.mutable_output()->set_encoding(v1::ENCODING_RAW);
  setup.mutable_output()->set_sample_type(v1::SAMPLE_TYPE_FLOAT);

  auto client = instance->client(settings.server);
  const auto started = std::chrono::steady_clock::now();
  FusedWindow fused = client->fuse(setup, images, width, height, settings.timeLimit, stopped, interactive);
  // The host destroyed the instance meanwhile: its images are left as they are.
  if (instance->destroyed()) return kOfxStatFailed;
  if (fused.ok) {
    writeFused(output, window, fused.rgb.data(), rect, source);
    instance->fused(effect, time, renderedAs, fused.warnings);
    if (std::getenv("MOVINGCOLOR_OFX_LOG") != nullptr) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr,
                   "movingcolor-ofx: frame %lld fused in %.3f s; %d images sent (%llu bytes), %d reused\n",
                   static_cast<long long>(target), seconds, fused.imagesSent,
                   static_cast<unsigned long long>(fused.bytesSent), fused.imagesReused);
    }
    return kOfxStatOK;
  }
  if (fused.aborted) return kOfxStatFailed;
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", settings.timeLimit);
  const std::string failure =
      fused.timedOut
          ? "the server at " + settings.server + " was still fusing " + frameName(target) +
                " when the Time limit (" + limit + " s) ran out; " + shown +
                ". Raise the Time limit (a first window loads the engine, and large frames take longer)."
      : fused.unreachable
          ? "the server at " + settings.server + " did not answer (" + fused.error + "); " + shown +
                ". Start it (movingcolor serve --address " + settings.server + ")" +
                // Only a wait can be helped by a longer one, and the first question of a render is
                // given five seconds at most: a longer limit waits no longer.
                (fused.waited && settings.timeLimit < kFindSeconds
                     ? ", check the Server parameter, or raise the Time limit."
                     : std::string(" or check the Server parameter") +
                           (fused.waited ? "; if it runs, see its log." : "."))
          : "the server could not fuse " + frameName(target) + ": " + fused.error + "; " + shown + ".";
  const std::string kind =
      std::string(fused.timedOut ? "timed out" : fused.unreachable ? "unreachable" : "refused") + " " +
      settings.server;
  return unfused(failure, kind);
}

}  // namespace movingcolor
