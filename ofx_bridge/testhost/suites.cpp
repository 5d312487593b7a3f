#include "suites.hpp"

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
thread_local const NeededFrames* tNeeded = nullptr;
thread_local std::chrono::steady_clock::time_point tStarted;
}  // namespace

void beginRenderOnThisThread(const NeededFrames* needed, std::chrono::steady_clock::time_point started) {
  tNeeded = needed;
  tStarted = started;
}

void Journal::add(const std::string& json) {
  std::lock_guard<std::mutex> guard(lock);
  events.push_back(json);
}

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

std::unique_ptr<Image> makeImage(const RawFrame& frame, double scale) {
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
  const int bounds[4] = {options.originX, options.originY, options.originX + frame.width,
                         options.originY + frame.height};
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
  p.setString("OfxImagePropField", "OfxImageFieldNone");
  p.setString("OfxImageEffectPropPreMultiplication", "OfxImageUnPreMultiplied");
  return image;
}

namespace {

Effect* effectOf(OfxImageEffectHandle handle) { return reinterpret_cast<Effect*>(handle); }
Clip* clipOf(OfxImageClipHandle handle) { return reinterpret_cast<Clip*>(handle); }
Param* paramOf(OfxParamHandle handle) { return reinterpret_cast<Param*>(handle); }
ParamSet* paramSetOf(OfxParamSetHandle handle) { return reinterpret_cast<ParamSet*>(handle); }

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

OfxStatus clipGetImage(OfxImageClipHandle handle, OfxTime time, const OfxRectD*,
                       OfxPropertySetHandle* image) {
  Clip* clip = clipOf(handle);
  if (clip == nullptr) return kOfxStatErrBadHandle;
  HostState& host = state();
  const long long frame = std::llround(time);
  if (clip->name == kOfxImageEffectOutputClipName) {
    auto it = host.outputs.find(std::to_string(frame));
    if (it == host.outputs.end()) return kOfxStatFailed;
    *image = it->second->props.handle();
    return kOfxStatOK;
  }
  host.journal.add("{\"event\":\"fetch\",\"clip\":" + jsonString(clip->name) +
                   ",\"frame\":" + std::to_string(frame) + "}");
  const auto declared = tNeeded != nullptr ? tNeeded->find(clip->name) : NeededFrames::const_iterator();
  if (tNeeded == nullptr || declared == tNeeded->end() || frame < declared->second.first ||
      frame > declared->second.second)
    host.journal.add("{\"event\":\"violation\",\"what\":" +
                     jsonString(clip->name + " frame " + std::to_string(frame) +
                                " fetched outside the frames the plugin declared as needed") +
                     "}");
  if (clip->props.getInt(kOfxImageClipPropConnected) == 0) return kOfxStatFailed;
  auto found = clip->frames.find(frame);
  if (found == clip->frames.end()) return kOfxStatFailed;
  auto made = makeImage(found->second, host.options.renderScale);
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
  *bounds = {double(o.originX), double(o.originY), double(o.originX + frame.width),
             double(o.originY + frame.height)};
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

// -- parameter suite -----------------------------------------------------------------------

bool isTriple(const std::string& type) { return type == kOfxParamTypeRGB || type == "OfxParamTypeDouble3D"; }
bool isInteger(const std::string& type) {
  return type == kOfxParamTypeInteger || type == kOfxParamTypeChoice || type == "OfxParamTypeBoolean";
}

OfxStatus paramDefine(OfxParamSetHandle set, const char* type, const char* name,
                      OfxPropertySetHandle* props) {
  ParamSet* params = paramSetOf(set);
  if (params == nullptr) return kOfxStatErrBadHandle;
  if (params->params.count(name)) return kOfxStatErrExists;
  auto param = std::make_unique<Param>();
  param->type = type;
  param->name = name;
  param->props.setString(kOfxPropName, name);
  param->props.setString(kOfxPropType, type);
  if (props != nullptr) *props = param->props.handle();
  params->order.push_back(name);
  params->params[name] = std::move(param);
  return kOfxStatOK;
}

OfxStatus paramGetHandle(OfxParamSetHandle set, const char* name, OfxParamHandle* param,
                         OfxPropertySetHandle* props) {
  ParamSet* params = paramSetOf(set);
  if (params == nullptr) return kOfxStatErrBadHandle;
  auto it = params->params.find(name);
  if (it == params->params.end()) return kOfxStatErrUnknown;
  *param = reinterpret_cast<OfxParamHandle>(it->second.get());
  if (props != nullptr) *props = it->second->props.handle();
  return kOfxStatOK;
}

OfxStatus paramSetGetPropertySet(OfxParamSetHandle set, OfxPropertySetHandle* props) {
  if (set == nullptr) return kOfxStatErrBadHandle;
  *props = paramSetOf(set)->props.handle();
  return kOfxStatOK;
}

OfxStatus paramGetPropertySet(OfxParamHandle param, OfxPropertySetHandle* props) {
  if (param == nullptr) return kOfxStatErrBadHandle;
  *props = paramOf(param)->props.handle();
  return kOfxStatOK;
}

OfxStatus readValue(Param* p, va_list values) {
  if (p == nullptr) return kOfxStatErrBadHandle;
  if (p->type == kOfxParamTypeDouble) {
    *va_arg(values, double*) = p->doubles[0];
  } else if (isTriple(p->type)) {
    for (double& v : p->doubles) *va_arg(values, double*) = v;
  } else if (isInteger(p->type)) {
    *va_arg(values, int*) = p->integer;
  } else if (p->type == kOfxParamTypeString) {
    *va_arg(values, char**) = const_cast<char*>(p->text.c_str());
  } else {
    return kOfxStatErrUnsupported;
  }
  return kOfxStatOK;
}

OfxStatus writeValue(Param* p, va_list values) {
  if (p == nullptr) return kOfxStatErrBadHandle;
  if (p->type == kOfxParamTypeDouble) {
    p->doubles[0] = va_arg(values, double);
  } else if (isTriple(p->type)) {
    for (double& v : p->doubles) v = va_arg(values, double);
  } else if (isInteger(p->type)) {
    p->integer = va_arg(values, int);
  } else if (p->type == kOfxParamTypeString) {
    p->text = va_arg(values, const char*);
  } else {
    return kOfxStatErrUnsupported;
  }
  return kOfxStatOK;
}

OfxStatus paramGetValue(OfxParamHandle param, ...) {
  va_list values;
  va_start(values, param);
  OfxStatus status = readValue(paramOf(param), values);
  va_end(values);
  return status;
}

OfxStatus paramGetValueAtTime(OfxParamHandle param, OfxTime time, ...) {
  va_list values;
  va_start(values, time);
  OfxStatus status = readValue(paramOf(param), values);  // nothing animates in this host
  va_end(values);
  return status;
}

OfxStatus paramGetDerivative(OfxParamHandle, OfxTime, ...) { return kOfxStatErrUnsupported; }
OfxStatus paramGetIntegral(OfxParamHandle, OfxTime, OfxTime, ...) { return kOfxStatErrUnsupported; }

OfxStatus paramSetValue(OfxParamHandle param, ...) {
  va_list values;
  va_start(values, param);
  OfxStatus status = writeValue(paramOf(param), values);
  va_end(values);
  return status;
}

OfxStatus paramSetValueAtTime(OfxParamHandle param, OfxTime time, ...) {
  va_list values;
  va_start(values, time);
  OfxStatus status = writeValue(paramOf(param), values);
  va_end(values);
  return status;
}

OfxStatus paramGetNumKeys(OfxParamHandle, unsigned int* keys) {
  *keys = 0;
  return kOfxStatOK;
}
OfxStatus paramGetKeyTime(OfxParamHandle, unsigned int, OfxTime*) { return kOfxStatErrBadIndex; }
OfxStatus paramGetKeyIndex(OfxParamHandle, OfxTime, int, int*) { return kOfxStatFailed; }
OfxStatus paramDeleteKey(OfxParamHandle, OfxTime) { return kOfxStatErrBadIndex; }
OfxStatus paramDeleteAllKeys(OfxParamHandle) { return kOfxStatOK; }
OfxStatus paramCopy(OfxParamHandle, OfxParamHandle, OfxTime, const OfxRangeD*) {
  return kOfxStatErrUnsupported;
}
OfxStatus paramEditBegin(OfxParamSetHandle, const char*) { return kOfxStatOK; }
OfxStatus paramEditEnd(OfxParamSetHandle) { return kOfxStatOK; }

const OfxParameterSuiteV1 kParameterSuite = {paramDefine,         paramGetHandle,   paramSetGetPropertySet,
                                             paramGetPropertySet, paramGetValue,    paramGetValueAtTime,
                                             paramGetDerivative,  paramGetIntegral, paramSetValue,
                                             paramSetValueAtTime, paramGetNumKeys,  paramGetKeyTime,
                                             paramGetKeyIndex,    paramDeleteKey,   paramDeleteAllKeys,
                                             paramCopy,           paramEditBegin,   paramEditEnd};

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
  state().journal.add("{\"event\":\"message\",\"kind\":\"cleared\"}");
  return kOfxStatOK;
}

const OfxMessageSuiteV2 kMessageSuite = {message, setPersistentMessage, clearPersistentMessage};

}  // namespace

const void* fetchSuite(OfxPropertySetHandle, const char* name, int version) {
  const std::string suite = name;
  if (suite == kOfxPropertySuite && version == 1) return propertySuite();
  if (suite == kOfxImageEffectSuite && version == 1) return &kImageEffectSuite;
  if (suite == kOfxParameterSuite && version == 1) return &kParameterSuite;
  if (suite == kOfxMemorySuite && version == 1) return &kMemorySuite;
  if (suite == kOfxMultiThreadSuite && version == 1) return &kMultiThreadSuite;
  if (suite == kOfxMessageSuite && version >= 1 && version <= state().options.messageVersion)
    return &kMessageSuite;
  return nullptr;
}

}  // namespace testhost
