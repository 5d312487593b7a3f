#include "suites.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "ofx/names.h"

namespace testhost {

HostState& state() {
  static HostState host;
  return host;
}

namespace {
// The render under way on this thread: renders may run at once, each on its own thread.
thread_local const RenderRequest* tRequest = nullptr;
thread_local std::chrono::steady_clock::time_point tStarted;
thread_local const char* tAction = nullptr;
}  // namespace

void beginRenderOnThisThread(const RenderRequest* request, std::chrono::steady_clock::time_point started) {
  tRequest = request;
  tStarted = started;
}

void setActionOnThisThread(const char* action) { tAction = action; }

const char* timedActionOnThisThread() {
  if (tAction == nullptr) return nullptr;
  for (const char* timed : {kOfxImageEffectActionRender, kOfxImageEffectActionGetFramesNeeded,
                            kOfxImageEffectActionGetRegionOfDefinition,
                            kOfxImageEffectActionGetRegionsOfInterest, kOfxImageEffectActionIsIdentity,
                            kOfxImageEffectActionBeginSequenceRender, kOfxImageEffectActionEndSequenceRender})
    if (std::strcmp(tAction, timed) == 0) return tAction;
  return nullptr;
}

OfxRectI toPixels(const OfxRectD& canonical, double scale) {
  return {int(std::floor(canonical.x1 * scale)), int(std::floor(canonical.y1 * scale)),
          int(std::ceil(canonical.x2 * scale)), int(std::ceil(canonical.y2 * scale))};
}

void Journal::add(const std::string& json) {
  std::lock_guard<std::mutex> guard(lock);
  events.push_back(json);
}

std::string jsonNumber(double value) {
  // Whatever the process's locale (--locale): JSON's decimal mark is a point.
  char text[40];
  const auto written = std::to_chars(text, text + sizeof text, value, std::chars_format::general, 17);
  return std::string(text, written.ptr);
}

double actionTime(long long frame) { return double(frame) + state().options.timeOffset; }

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

RawFrame Image::toRaw() const {
  RawFrame frame{width, height, channels, {}};
  frame.samples.resize(size_t(width) * size_t(height) * size_t(channels));
  for (int row = 0; row < height; ++row) {
    // Positive row bytes: memory rows bottom-up; negative: top-down.
    const int memoryRow = state().options.negativeRowBytes ? row : height - 1 - row;
    std::memcpy(&frame.samples[size_t(row) * size_t(width) * size_t(channels)],
                &memory[size_t(memoryRow) * size_t(stride)],
                size_t(width) * size_t(channels) * sizeof(float));
  }
  return frame;
}

std::unique_ptr<Image> makeImage(const RawFrame& frame, double scale, int x1, int y1) {
  auto image = std::make_unique<Image>();
  const Options& options = state().options;
  image->width = frame.width;
  image->height = frame.height;
  image->channels = frame.channels;
  // Padding at each row's end: row bytes are not width times pixel size in real hosts either.
  image->stride = long(frame.width) * frame.channels * long(sizeof(float)) + 64;
  image->memory.assign(size_t(image->stride) * size_t(frame.height), 0);
  for (int row = 0; row < frame.height; ++row) {
    const int memoryRow = options.negativeRowBytes ? row : frame.height - 1 - row;
    std::memcpy(&image->memory[size_t(memoryRow) * size_t(image->stride)],
                &frame.samples[size_t(row) * size_t(frame.width) * size_t(frame.channels)],
                size_t(frame.width) * size_t(frame.channels) * sizeof(float));
  }
  char* bottom = options.negativeRowBytes ? &image->memory[size_t(frame.height - 1) * size_t(image->stride)]
                                          : image->memory.data();
  PropertySet& p = image->props;
  p.setPointer(kOfxImagePropData, bottom);
  const int bounds[4] = {x1, y1, x1 + frame.width, y1 + frame.height};
  for (int i = 0; i < 4; ++i) {
    p.setInt(kOfxImagePropBounds, bounds[i], i);
    p.setInt("OfxImagePropRegionOfDefinition", bounds[i], i);
  }
  p.setInt(kOfxImagePropRowBytes, int(options.negativeRowBytes ? -image->stride : image->stride));
  p.setString(kOfxImageEffectPropPixelDepth, kOfxBitDepthFloat);
  p.setString(kOfxImageEffectPropComponents,
              frame.channels == 1 ? kOfxImageComponentAlpha : kOfxImageComponentRGBA);
  p.setDouble(kOfxImageEffectPropRenderScale, scale, 0);
  p.setDouble(kOfxImageEffectPropRenderScale, scale, 1);
  p.setDouble("OfxImagePropPixelAspectRatio", 1.0);
  p.setString("OfxImagePropField", kOfxImageFieldNone);
  p.setString("OfxImageEffectPropPreMultiplication", options.premultiplied && frame.channels == 4
                                                         ? kOfxImagePreMultiplied
                                                         : kOfxImageUnPreMultiplied);
  return image;
}

namespace {

Effect* effectOf(OfxImageEffectHandle handle) { return reinterpret_cast<Effect*>(handle); }
Clip* clipOf(OfxImageClipHandle handle) { return reinterpret_cast<Clip*>(handle); }

// -- image effect suite --------------------------------------------------------------------

OfxStatus getPropertySet(OfxImageEffectHandle effect, OfxPropertySetHandle* props) {
  if (effect == nullptr) return kOfxStatErrBadHandle;
  *props = effectOf(effect)->props.handle();
  return kOfxStatOK;
}

OfxStatus getParamSet(OfxImageEffectHandle effect, OfxParamSetHandle* params) {
  if (effect == nullptr) return kOfxStatErrBadHandle;
  *params = reinterpret_cast<OfxParamSetHandle>(&effectOf(effect)->params);
  return kOfxStatOK;
}

OfxStatus clipDefine(OfxImageEffectHandle effect, const char* name, OfxPropertySetHandle* props) {
  Effect* e = effectOf(effect);
  if (e == nullptr) return kOfxStatErrBadHandle;
  auto clip = std::make_unique<Clip>();
  clip->name = name;
  clip->props.setString(kOfxPropName, name);
  *props = clip->props.handle();
  e->clipOrder.push_back(name);
  e->clips[name] = std::move(clip);
  return kOfxStatOK;
}

OfxStatus clipGetHandle(OfxImageEffectHandle effect, const char* name, OfxImageClipHandle* clip,
                        OfxPropertySetHandle* props) {
  Effect* e = effectOf(effect);
  if (e == nullptr) return kOfxStatErrBadHandle;
  auto it = e->clips.find(name);
  if (it == e->clips.end()) return kOfxStatErrUnknown;
  *clip = reinterpret_cast<OfxImageClipHandle>(it->second.get());
  if (props != nullptr) *props = it->second->props.handle();
  return kOfxStatOK;
}

OfxStatus clipGetPropertySet(OfxImageClipHandle clip, OfxPropertySetHandle* props) {
  if (clip == nullptr) return kOfxStatErrBadHandle;
  *props = clipOf(clip)->props.handle();
  return kOfxStatOK;
}

bool intersect(OfxRectI& into, const OfxRectI& with) {
  into = {std::max(into.x1, with.x1), std::max(into.y1, with.y1), std::min(into.x2, with.x2),
          std::min(into.y2, with.y2)};
  return into.x1 < into.x2 && into.y1 < into.y2;
}

OfxStatus clipGetImage(OfxImageClipHandle handle, OfxTime time, const OfxRectD* region,
                       OfxPropertySetHandle* image) {
  Clip* clip = clipOf(handle);
  if (clip == nullptr) return kOfxStatErrBadHandle;
  HostState& host = state();
  const Options& o = host.options;
  const long long frame = std::llround(time);
  if (clip->name == kOfxImageEffectOutputClipName) {
    auto it = host.outputs.find(std::to_string(frame));
    if (it == host.outputs.end()) return kOfxStatFailed;
    *image = it->second->props.handle();
    return kOfxStatOK;
  }
  const std::string components = clip->props.getString(kOfxImageEffectPropComponents);
  host.journal.add("{\"event\":\"fetch\",\"clip\":" + jsonString(clip->name) +
                   ",\"frame\":" + std::to_string(frame) + ",\"time\":" + jsonNumber(time) +
                   ",\"components\":" + jsonString(components) + "}");
  const auto declared =
      tRequest != nullptr ? tRequest->needed.find(clip->name) : NeededFrames::const_iterator();
  constexpr double kSlack = 1e-6;
  if (tRequest == nullptr || declared == tRequest->needed.end() || time < declared->second.first - kSlack ||
      time > declared->second.second + kSlack)
    host.journal.add("{\"event\":\"violation\",\"what\":" +
                     jsonString(clip->name + " frame " + std::to_string(frame) +
                                " fetched outside the frames the plugin declared as needed") +
                     "}");
  if (clip->props.getInt(kOfxImageClipPropConnected) == 0) return kOfxStatFailed;
  auto found = clip->frames.find(frame);
  if (found == clip->frames.end()) return kOfxStatFailed;
  RawFrame blended;
  if (o.blendSubframes && time != std::floor(time)) {
    // Between frames, a retiming host blends the two either side.
    auto before = clip->frames.find((long long)std::floor(time)), after = clip->frames.find((long long)std::ceil(time));
    if (before == clip->frames.end() || after == clip->frames.end()) return kOfxStatFailed;
    const double weight = time - std::floor(time);
    blended = before->second;
    for (size_t i = 0; i < blended.samples.size(); ++i)
      blended.samples[i] = float((1.0 - weight) * before->second.samples[i] + weight * after->second.samples[i]);
  }
  const RawFrame& stored = blended.samples.empty() ? found->second : blended;
  // The image covers the region of interest the plugin declared (and the region asked for), no more.
  OfxRectI bounds{o.originX, o.originY, o.originX + stored.width, o.originY + stored.height};
  if (tRequest != nullptr) {
    auto roi = tRequest->regionsOfInterest.find(clip->name);
    if (roi != tRequest->regionsOfInterest.end() && !intersect(bounds, toPixels(roi->second, o.renderScale)))
      return kOfxStatFailed;
  }
  if (region != nullptr && !intersect(bounds, toPixels(*region, o.renderScale))) return kOfxStatFailed;
  RawFrame delivered = crop(stored, bounds.x1 - o.originX, o.originY + stored.height - bounds.y2,
                            bounds.x2 - bounds.x1, bounds.y2 - bounds.y1);
  if (components == kOfxImageComponentAlpha && delivered.channels == 4) delivered = alphaOf(delivered);
  auto made = makeImage(delivered, o.renderScale, bounds.x1, bounds.y1);
  const int whole[4] = {o.originX, o.originY, o.originX + stored.width, o.originY + stored.height};
  for (int i = 0; i < 4; ++i) made->props.setInt("OfxImagePropRegionOfDefinition", whole[i], i);
  PropertySet* props = &made->props;
  std::lock_guard<std::mutex> guard(host.journal.lock);
  host.images[props] = std::move(made);
  *image = props->handle();
  return kOfxStatOK;
}

OfxStatus clipReleaseImage(OfxPropertySetHandle image) {
  HostState& host = state();
  PropertySet* props = PropertySet::from(image);
  for (auto& entry : host.outputs)
    if (&entry.second->props == props) return kOfxStatOK;
  std::lock_guard<std::mutex> guard(host.journal.lock);
  return host.images.erase(props) ? kOfxStatOK : kOfxStatErrBadHandle;
}

OfxStatus clipGetRegionOfDefinition(OfxImageClipHandle handle, OfxTime time, OfxRectD* bounds) {
  Clip* clip = clipOf(handle);
  if (clip == nullptr || clip->frames.empty()) return kOfxStatErrBadHandle;
  const RawFrame& frame = clip->frames.begin()->second;
  const Options& o = state().options;
  // Canonical coordinates: the stored frames are at the render scale.
  *bounds = {o.originX / o.renderScale, o.originY / o.renderScale, (o.originX + frame.width) / o.renderScale,
             (o.originY + frame.height) / o.renderScale};
  return kOfxStatOK;
}

int abortRender(OfxImageEffectHandle) {
  const HostState& host = state();
  if (host.options.abort) return 1;
  const double running = std::chrono::duration<double>(std::chrono::steady_clock::now() - tStarted).count();
  return host.options.abortAfter >= 0 && running >= host.options.abortAfter ? 1 : 0;
}

OfxStatus imageMemoryAlloc(OfxImageEffectHandle, size_t bytes, OfxImageMemoryHandle* memory) {
  *memory = reinterpret_cast<OfxImageMemoryHandle>(std::malloc(bytes));
  return *memory ? kOfxStatOK : kOfxStatErrMemory;
}
OfxStatus imageMemoryFree(OfxImageMemoryHandle memory) {
  std::free(memory);
  return kOfxStatOK;
}
OfxStatus imageMemoryLock(OfxImageMemoryHandle memory, void** pointer) {
  *pointer = memory;
  return kOfxStatOK;
}
OfxStatus imageMemoryUnlock(OfxImageMemoryHandle) { return kOfxStatOK; }

const OfxImageEffectSuiteV1 kImageEffectSuite = {
    getPropertySet,     getParamSet,      clipDefine,       clipGetHandle,
    clipGetPropertySet, clipGetImage,     clipReleaseImage, clipGetRegionOfDefinition,
    abortRender,        imageMemoryAlloc, imageMemoryFree,  imageMemoryLock,
    imageMemoryUnlock};

// -- memory suite --------------------------------------------------------------------------

OfxStatus memoryAlloc(void*, size_t bytes, void** data) {
  *data = std::malloc(bytes);
  return *data ? kOfxStatOK : kOfxStatErrMemory;
}
OfxStatus memoryFree(void* data) {
  std::free(data);
  return kOfxStatOK;
}
const OfxMemorySuiteV1 kMemorySuite = {memoryAlloc, memoryFree};

// -- multi-thread suite --------------------------------------------------------------------

thread_local unsigned int tThreadIndex = 0;
thread_local bool tSpawned = false;

OfxStatus multiThread(OfxThreadFunctionV1 function, unsigned int count, void* argument) {
  // As real hosts do, a call from one of the threads this suite spawned is refused.
  if (tSpawned) {
    state().journal.add("{\"event\":\"threads_refused\",\"why\":\"nested multiThread call\"}");
    return kOfxStatErrExists;
  }
  if (count == 0) count = state().options.cpus;
  std::vector<std::thread> threads;
  for (unsigned int index = 0; index < count; ++index) {
    threads.emplace_back([=] {
      tThreadIndex = index;
      tSpawned = true;
      function(index, count, argument);
    });
  }
  for (auto& thread : threads) thread.join();
  state().journal.add("{\"event\":\"threads\",\"count\":" + std::to_string(count) + "}");
  return kOfxStatOK;
}
OfxStatus multiThreadNumCPUs(unsigned int* cpus) {
  *cpus = state().options.cpus;
  return kOfxStatOK;
}
OfxStatus multiThreadIndex(unsigned int* index) {
  *index = tThreadIndex;
  return kOfxStatOK;
}
int multiThreadIsSpawnedThread() { return tSpawned ? 1 : 0; }
OfxStatus mutexCreate(OfxMutexHandle* mutex, int lockCount) {
  auto* m = new std::recursive_mutex();
  for (int i = 0; i < lockCount; ++i) m->lock();
  *mutex = reinterpret_cast<OfxMutexHandle>(m);
  return kOfxStatOK;
}
OfxStatus mutexDestroy(const OfxMutexHandle mutex) {
  delete reinterpret_cast<std::recursive_mutex*>(mutex);
  return kOfxStatOK;
}
OfxStatus mutexLock(const OfxMutexHandle mutex) {
  reinterpret_cast<std::recursive_mutex*>(mutex)->lock();
  return kOfxStatOK;
}
OfxStatus mutexUnLock(const OfxMutexHandle mutex) {
  reinterpret_cast<std::recursive_mutex*>(mutex)->unlock();
  return kOfxStatOK;
}
OfxStatus mutexTryLock(const OfxMutexHandle mutex) {
  return reinterpret_cast<std::recursive_mutex*>(mutex)->try_lock() ? kOfxStatOK : kOfxStatFailed;
}
const OfxMultiThreadSuiteV1 kMultiThreadSuite = {
    multiThread, multiThreadNumCPUs, multiThreadIndex, multiThreadIsSpawnedThread, mutexCreate, mutexDestroy,
    mutexLock,   mutexUnLock,        mutexTryLock};

// -- message suite -------------------------------------------------------------------------

void record(const char* kind, const char* type, const char* id, const char* format, va_list values) {
  if (state().destroyed)
    state().journal.add("{\"event\":\"violation\",\"what\":\"a message for an instance already destroyed\"}");
  char text[4096];
  std::vsnprintf(text, sizeof text, format, values);
  state().journal.add(std::string("{\"event\":\"message\",\"kind\":") + jsonString(kind) +
                      ",\"type\":" + jsonString(type ? type : "") + ",\"id\":" + jsonString(id ? id : "") +
                      ",\"text\":" + jsonString(text) + "}");
}

OfxStatus message(void*, const char* type, const char* id, const char* format, ...) {
  va_list values;
  va_start(values, format);
  record("message", type, id, format, values);
  va_end(values);
  return kOfxStatOK;
}

OfxStatus setPersistentMessage(void*, const char* type, const char* id, const char* format, ...) {
  va_list values;
  va_start(values, format);
  record("persistent", type, id, format, values);
  va_end(values);
  return kOfxStatOK;
}

OfxStatus clearPersistentMessage(void*) {
  if (state().destroyed)
    state().journal.add("{\"event\":\"violation\",\"what\":\"a message cleared for an instance already destroyed\"}");
  state().journal.add("{\"event\":\"message\",\"kind\":\"cleared\"}");
  return kOfxStatOK;
}

const OfxMessageSuiteV2 kMessageSuite = {message, setPersistentMessage, clearPersistentMessage};

}  // namespace

const void* fetchSuite(OfxPropertySetHandle, const char* name, int version) {
  const std::string suite = name;
  if (suite == kOfxPropertySuite && version == 1) return propertySuite();
  if (suite == kOfxImageEffectSuite && version == 1) return &kImageEffectSuite;
  if (suite == kOfxParameterSuite && version == 1) return parameterSuite();
  if (suite == kOfxMemorySuite && version == 1) return &kMemorySuite;
  if (suite == kOfxMultiThreadSuite && version == 1) return &kMultiThreadSuite;
  if (suite == kOfxMessageSuite && version >= 1 && version <= state().options.messageVersion)
    return &kMessageSuite;
  return nullptr;
}

}  // namespace testhost
