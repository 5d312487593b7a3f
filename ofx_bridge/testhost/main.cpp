// ofx_test_host: a minimal OpenFX host that loads a plugin binary and drives it
// as an editing or compositing host would: load, describe, describe in a context,
// create an instance, get clip preferences, set parameters and keyframes; then for
// each frame its region of definition and frames needed, and, between begin and end
// sequence render, is-identity, regions of interest and render. Frames come from raw
// files (see raw_frames.hpp); what happened is printed as JSON lines (describe,
// clip_preferences, frames_needed, fetch, message, render, identity, violation, ...).
//
//   ofx_test_host --plugin MovingColor.ofx --frames DIR --out DIR [--context filter|general]
//                 [--render 3,4,3] [--param name=value]... [--key name@frame=value]...
//                 [--scale 0.5] [--origin X,Y] [--negative-rowbytes] [--cpus N] [--message-suite 1|2]
//                 [--no-matte] [--no-graded] [--abort] [--abort-after SECONDS] [--render-threads N]
//                 [--render-on-suite-threads] [--interactive] [--premultiplied]
//                 [--time-offset F] [--blend-subframes] [--locale NAME] [--no-interactive-status]
//                 [--destroy-after SECONDS] [--pause-before INDEX:PATH]
//
// --key sets a keyframe (double parameters that animate; linear between keys); the timeline sits
// at the first frame, where paramGetValue reads. --render-on-suite-threads runs the concurrent
// renders on the multi-thread suite's own threads, from which a nested multiThread is refused.
// --interactive renders as a viewer does (kOfxImageEffectPropInteractiveRenderStatus 1); without
// it every render is a final render's. --premultiplied marks every RGBA image as premultiplied by
// its alpha (the frames on disk are then premultiplied), as a keyed or rotoed element is.
// --time-offset asks for every frame at frame + F (a sub-frame render, as motion blur downstream
// does); --blend-subframes answers a fetch between frames with a blend of the two either side.
// --locale sets the process's locale before the renders, as a Qt host has (a German one writes
// 1,5). --no-interactive-status leaves kOfxImageEffectPropInteractiveRenderStatus out of the
// render arguments, as hosts that predate it do. --destroy-after destroys the instance that many
// seconds into the renders, while they run; a message for it after that is a violation.
// --pause-before stops before the render at INDEX of the list (from 0; one render thread), writes
// PATH.paused and waits until PATH exists: a test changes the world there (starts a server).
//
// DIR holds source.N.raw (RGBA), and optionally matte.N.raw (A or RGBA) and graded.N.raw (RGBA).
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "actions.hpp"
#include "ofx/names.h"
#include "suites.hpp"

namespace fs = std::filesystem;
using namespace testhost;

namespace {

struct Arguments {
  std::string plugin, frames, out, context = kOfxImageEffectContextGeneral;
  std::vector<long long> render;
  std::vector<std::pair<std::string, std::string>> params;
  struct Key {
    std::string name;
    double time;
    std::string value;
  };
  std::vector<Key> keys;
  bool matte = true, graded = true;
  long long pauseBefore = -1;
  std::string pausePath;
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  return parts;
}

Arguments parse(int argc, char** argv) {
  Arguments a;
  Options& o = state().options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--plugin")
      a.plugin = value();
    else if (flag == "--frames")
      a.frames = value();
    else if (flag == "--out")
      a.out = value();
    else if (flag == "--context")
      a.context = value() == "filter" ? kOfxImageEffectContextFilter : kOfxImageEffectContextGeneral;
    else if (flag == "--render")
      for (const auto& f : split(value(), ',')) a.render.push_back(std::stoll(f));
    else if (flag == "--param") {
      const std::string text = value();
      const size_t equals = text.find('=');
      if (equals == std::string::npos) throw std::runtime_error("--param takes name=value, not " + text);
      a.params.emplace_back(text.substr(0, equals), text.substr(equals + 1));
    } else if (flag == "--key") {
      const std::string text = value();
      const size_t at = text.find('@'), equals = text.find('=');
      if (at == std::string::npos || equals == std::string::npos || equals < at)
        throw std::runtime_error("--key takes name@frame=value, not " + text);
      a.keys.push_back(
          {text.substr(0, at), std::stod(text.substr(at + 1, equals - at - 1)), text.substr(equals + 1)});
    } else if (flag == "--scale")
      o.renderScale = std::stod(value());
    else if (flag == "--origin") {
      const auto xy = split(value(), ',');
      o.originX = std::stoi(xy.at(0));
      o.originY = std::stoi(xy.at(1));
    } else if (flag == "--negative-rowbytes")
      o.negativeRowBytes = true;
    else if (flag == "--cpus")
      o.cpus = unsigned(std::stoul(value()));
    else if (flag == "--message-suite")
      o.messageVersion = std::stoi(value());
    else if (flag == "--abort")
      o.abort = true;
    else if (flag == "--abort-after")
      o.abortAfter = std::stod(value());
    else if (flag == "--render-threads")
      o.renderThreads = unsigned(std::stoul(value()));
    else if (flag == "--render-on-suite-threads")
      o.renderOnSuiteThreads = true;
    else if (flag == "--interactive")
      o.interactive = true;
    else if (flag == "--premultiplied")
      o.premultiplied = true;
    else if (flag == "--time-offset")
      o.timeOffset = std::stod(value());
    else if (flag == "--blend-subframes")
      o.blendSubframes = true;
    else if (flag == "--locale")
      o.locale = value();
    else if (flag == "--no-interactive-status")
      o.omitInteractiveStatus = true;
    else if (flag == "--destroy-after")
      o.destroyAfter = std::stod(value());
    else if (flag == "--pause-before") {
      const std::string text = value();
      const size_t colon = text.find(':');
      if (colon == std::string::npos)
        throw std::runtime_error("--pause-before takes INDEX:PATH, not " + text);
      a.pauseBefore = std::stoll(text.substr(0, colon));
      a.pausePath = text.substr(colon + 1);
    } else if (flag == "--no-matte")
      a.matte = false;
    else if (flag == "--no-graded")
      a.graded = false;
    else
      throw std::runtime_error("unknown option " + flag);
  }
  if (a.plugin.empty() || a.frames.empty() || a.out.empty())
    throw std::runtime_error("give --plugin, --frames and --out");
  return a;
}

std::map<long long, RawFrame> loadFrames(const std::string& folder, const std::string& role) {
  std::map<long long, RawFrame> frames;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    const auto parts = split(name, '.');
    if (parts.size() == 3 && parts[0] == role && parts[2] == "raw")
      frames[std::stoll(parts[1])] = readRawFrame(entry.path().string());
  }
  return frames;
}

OfxPlugin* loadPlugin(const std::string& path) {
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) throw std::runtime_error(std::string("cannot load the plugin: ") + dlerror());
  auto count = reinterpret_cast<OfxGetNumberOfPluginsFunction>(dlsym(library, "OfxGetNumberOfPlugins"));
  auto get = reinterpret_cast<OfxGetPluginFunction>(dlsym(library, "OfxGetPlugin"));
  if (count == nullptr || get == nullptr) throw std::runtime_error("the binary lacks the OFX entry points");
  if (count() < 1) throw std::runtime_error("the binary holds no plugin");
  OfxPlugin* plugin = get(0);
  if (std::string(plugin->pluginApi) != kOfxImageEffectPluginApi || plugin->apiVersion != 1)
    throw std::runtime_error("plugin 0 is not an image effect of API version 1");
  return plugin;
}

std::string strings(const PropertySet& set, const std::string& name) {
  std::string out = "[";
  const Property* p = set.find(name);
  for (size_t i = 0; p && i < p->strings.size(); ++i) out += (i ? "," : "") + jsonString(p->strings[i]);
  return out + "]";
}

std::string numbers(const PropertySet& set, const std::string& name) {
  std::string out = "[";
  const Property* p = set.find(name);
  for (size_t i = 0; p && i < p->doubles.size(); ++i) {
    out += std::string(i ? "," : "") + jsonNumber(p->doubles[i]);
  }
  return out + "]";
}

// What the describe_in_context line says of a parameter: its name and type, and the numbers of a
// double parameter (default, limits, display range).
std::string paramJson(const Param& param) {
  std::string json = "{\"name\":" + jsonString(param.name) + ",\"type\":" + jsonString(param.type);
  if (param.holdsDoubles())
    for (const auto& [key, property] : {std::pair<const char*, const char*>{"default", kOfxParamPropDefault},
                                        {"min", kOfxParamPropMin},
                                        {"max", kOfxParamPropMax},
                                        {"display_min", kOfxParamPropDisplayMin},
                                        {"display_max", kOfxParamPropDisplayMax}})
      json += std::string(",\"") + key + "\":" + numbers(param.props, property);
  return json + "}";
}

// What the host settled for one frame before any render: the Output's region and the frames needed.
struct FramePlan {
  OfxRectD region;
  NeededFrames needed;
};

// An Output image over `window` whose every sample is NaN, so a plugin that skips any pixel shows.
std::unique_ptr<Image> blankOutput(const OfxRectI& window) {
  RawFrame blank{window.x2 - window.x1, window.y2 - window.y1, 4, {}};
  blank.samples.assign(size_t(blank.width) * size_t(blank.height) * 4, std::nanf(""));
  return makeImage(blank, state().options.renderScale, window.x1, window.y1);
}

// The frame the host shows for an identity: `clip`'s image at `time`, in the components it gives.
RawFrame identityFrame(Effect& effect, const std::string& clip, double time) {
  const Clip& named = *effect.clips.at(clip);
  auto found = named.frames.find(std::llround(time));
  if (found == named.frames.end())
    throw std::runtime_error("isIdentity named " + clip + " at " + std::to_string(time) +
                             ", which has no frame there");
  const bool alpha = named.props.getString(kOfxImageEffectPropComponents) == kOfxImageComponentAlpha;
  return alpha && found->second.channels == 4 ? alphaOf(found->second) : found->second;
}

// One frame into its Output image on the calling thread: the host asks whether the frame is an
// identity, and if not, the regions of interest and the render; writes out.<frame>.raw.
void renderFrame(OfxPlugin* plugin, Effect& effect, const Arguments& args, long long frame,
                 const FramePlan& plan) {
  HostState& host = state();
  const Options& o = host.options;
  const OfxRectI window = toPixels(plan.region, o.renderScale);
  const std::string path = args.out + "/out." + std::to_string(frame) + ".raw";
  const auto [identityClip, identityTime] = identity(plugin, effect, frame, window);
  if (!identityClip.empty()) {
    writeRawFrame(path, identityFrame(effect, identityClip, identityTime));
    emit("{\"event\":\"identity\",\"frame\":" + std::to_string(frame) +
         ",\"clip\":" + jsonString(identityClip) + ",\"time\":" + jsonNumber(identityTime) +
         ",\"output\":" + jsonString(path) + "}");
    return;
  }
  const RenderRequest request{plan.needed, regionsOfInterest(plugin, effect, frame, plan.region)};
  PropertySet renderArgs;
  renderArgs.setDouble(kOfxPropTime, actionTime(frame));
  renderArgs.setString(kOfxImageEffectPropFieldToRender, kOfxImageFieldNone);
  const int corners[4] = {window.x1, window.y1, window.x2, window.y2};
  for (int i = 0; i < 4; ++i) renderArgs.setInt(kOfxImageEffectPropRenderWindow, corners[i], i);
  renderArgs.setDouble(kOfxImageEffectPropRenderScale, o.renderScale, 0);
  renderArgs.setDouble(kOfxImageEffectPropRenderScale, o.renderScale, 1);
  renderArgs.setInt(kOfxImageEffectPropSequentialRenderStatus, o.renderThreads <= 1 ? 1 : 0);
  if (!o.omitInteractiveStatus) renderArgs.setInt(kOfxImageEffectPropInteractiveRenderStatus, o.interactive ? 1 : 0);
  const auto started = std::chrono::steady_clock::now();
  beginRenderOnThisThread(&request, started);
  const OfxStatus status = call(plugin, kOfxImageEffectActionRender, &effect, &renderArgs);
  beginRenderOnThisThread(nullptr, started);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (o.renderThreads <= 1 && !host.images.empty()) {
    emit("{\"event\":\"violation\",\"what\":\"" + std::to_string(host.images.size()) +
         " images were not released after the render\"}");
    host.images.clear();
  }
  writeRawFrame(path, host.outputs.at(std::to_string(frame))->toRaw());
  const std::string timing = jsonNumber(std::round(seconds * 1e4) / 1e4);
  emit("{\"event\":\"render\",\"frame\":" + std::to_string(frame) + ",\"status\":" + std::to_string(status) +
       ",\"seconds\":" + timing + ",\"output\":" + jsonString(path) + "}");
}

// Writes `path`.paused and waits until `path` exists (two minutes at most).
void pause(const std::string& path) {
  { std::ofstream(path + ".paused") << "paused\n"; }
  emit("{\"event\":\"paused\"}");
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (!fs::exists(path)) {
    if (std::chrono::steady_clock::now() > until)
      throw std::runtime_error("nothing made " + path + " to resume");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Runs `work` on `threads` threads: the host's own, or, with --render-on-suite-threads, those of its
// multi-thread suite.
void onThreads(unsigned int threads, const std::function<void()>& work) {
  if (state().options.renderOnSuiteThreads) {
    const auto* suite =
        static_cast<const OfxMultiThreadSuiteV1*>(fetchSuite(nullptr, kOfxMultiThreadSuite, 1));
    auto run = [](unsigned int, unsigned int, void* argument) {
      (*static_cast<const std::function<void()>*>(argument))();
    };
    if (suite->multiThread(run, threads, const_cast<std::function<void()>*>(&work)) != kOfxStatOK)
      throw std::runtime_error("the host's multi-thread suite refused the renders");
    return;
  }
  std::vector<std::thread> workers;
  for (unsigned int i = 1; i < threads; ++i) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
}

int run(const Arguments& args) {
  HostState& host = state();
  host.hostProps.setString(kOfxPropName, "com.movingcolor.testhost");
  host.hostProps.setString(kOfxPropLabel, "MovingColor test host");
  host.ofxHost.host = host.hostProps.handle();
  host.ofxHost.fetchSuite = fetchSuite;

  OfxPlugin* plugin = loadPlugin(args.plugin);
  plugin->setHost(&host.ofxHost);
  require(call(plugin, kOfxActionLoad, nullptr), kOfxActionLoad);

  Effect descriptor;
  require(call(plugin, kOfxActionDescribe, &descriptor), kOfxActionDescribe);
  emit("{\"event\":\"describe\",\"plugin\":" + jsonString(plugin->pluginIdentifier) +
       ",\"label\":" + jsonString(descriptor.props.getString(kOfxPropLabel)) +
       ",\"contexts\":" + strings(descriptor.props, kOfxImageEffectPropSupportedContexts) + ",\"temporal\":" +
       std::to_string(descriptor.props.getInt(kOfxImageEffectPropTemporalClipAccess)) + ",\"field_render_twice\":" +
       std::to_string(descriptor.props.getInt(kOfxImageEffectPluginPropFieldRenderTwiceAlways, 0, 1)) + "}");

  Effect effect;
  effect.props = descriptor.props;
  PropertySet contextArgs;
  contextArgs.setString(kOfxImageEffectPropContext, args.context);
  require(call(plugin, kOfxImageEffectActionDescribeInContext, &effect, &contextArgs),
          kOfxImageEffectActionDescribeInContext);
  std::string clipList = "[", paramList = "[";
  for (const auto& name : effect.clipOrder) {
    const Clip& clip = *effect.clips[name];
    clipList += std::string(clipList.size() > 1 ? "," : "") + "{\"name\":" + jsonString(name) +
                ",\"optional\":" + std::to_string(clip.props.getInt(kOfxImageClipPropOptional)) +
                ",\"mask\":" + std::to_string(clip.props.getInt(kOfxImageClipPropIsMask)) +
                ",\"components\":" + strings(clip.props, kOfxImageEffectPropSupportedComponents) + "}";
  }
  for (const auto& name : effect.params.order)
    paramList += std::string(paramList.size() > 1 ? "," : "") + paramJson(*effect.params.params[name]);
  emit("{\"event\":\"describe_in_context\",\"context\":" + jsonString(args.context) +
       ",\"clips\":" + clipList + "],\"params\":" + paramList + "]}");

  // The instance: clips connected to the frames given, parameters at their defaults.
  std::map<std::string, std::map<long long, RawFrame>> inputs = {
      {"Source", loadFrames(args.frames, "source")},
      {"Matte", args.matte ? loadFrames(args.frames, "matte") : std::map<long long, RawFrame>{}},
      {"Graded", args.graded ? loadFrames(args.frames, "graded") : std::map<long long, RawFrame>{}}};
  if (inputs["Source"].empty()) throw std::runtime_error("no source.N.raw frames in " + args.frames);
  const long long first = inputs["Source"].begin()->first, last = inputs["Source"].rbegin()->first;
  effect.props.setString(kOfxImageEffectPropContext, args.context);
  for (auto& [name, clip] : effect.clips) {
    if (name != kOfxImageEffectOutputClipName) clip->frames = inputs[name];
    const bool connected = name == kOfxImageEffectOutputClipName || !clip->frames.empty();
    clip->props.setInt(kOfxImageClipPropConnected, connected ? 1 : 0);
    clip->props.setDouble(kOfxImageEffectPropFrameRange, double(first), 0);
    clip->props.setDouble(kOfxImageEffectPropFrameRange, double(last), 1);
    clip->props.setString(kOfxImageEffectPropPixelDepth, kOfxBitDepthFloat);
    const bool alpha = !clip->frames.empty() && clip->frames.begin()->second.channels == 1;
    clip->props.setString(kOfxImageEffectPropComponents,
                          alpha ? kOfxImageComponentAlpha : kOfxImageComponentRGBA);
  }
  for (auto& [name, param] : effect.params.params) initialise(*param);
  host.currentTime = double(first);
  require(call(plugin, kOfxActionCreateInstance, &effect), kOfxActionCreateInstance);
  clipPreferences(plugin, effect, args.context);

  // The user's edits: each value, then each keyframe at its frame, as typed in the host's editor.
  auto changed = [&](const std::string& name, double time) {
    PropertySet changedArgs;
    changedArgs.setString(kOfxPropType, kOfxTypeParameter);
    changedArgs.setString(kOfxPropName, name);
    changedArgs.setString(kOfxPropChangeReason, kOfxChangeUserEdited);
    changedArgs.setDouble(kOfxPropTime, time);
    changedArgs.setDouble(kOfxImageEffectPropRenderScale, host.options.renderScale, 0);
    changedArgs.setDouble(kOfxImageEffectPropRenderScale, host.options.renderScale, 1);
    const OfxStatus status = call(plugin, kOfxActionInstanceChanged, &effect, &changedArgs);
    emit("{\"event\":\"instance_changed\",\"param\":" + jsonString(name) +
         ",\"status\":" + std::to_string(status) + "}");
  };
  auto paramNamed = [&](const std::string& name) -> Param& {
    auto it = effect.params.params.find(name);
    if (it == effect.params.params.end()) throw std::runtime_error("the plugin has no parameter " + name);
    return *it->second;
  };
  for (const auto& [name, value] : args.params) {
    setParam(paramNamed(name), value);
    changed(name, double(first));
  }
  for (const auto& key : args.keys) {
    setKey(paramNamed(key.name), key.time, key.value);
    changed(key.name, key.time);
  }

  fs::create_directories(args.out);
  std::vector<long long> frames = args.render;
  if (frames.empty())
    for (long long f = first; f <= last; ++f) frames.push_back(f);
  // Every frame's region and frames needed first, as a host asks before it schedules renders.
  std::vector<FramePlan> plans;
  for (long long frame : frames) {
    const OfxRectD region = regionOfDefinition(plugin, effect, frame);
    plans.push_back({region, framesNeeded(plugin, effect, frame)});
  }
  const unsigned int threads = host.options.renderThreads;
  if (threads > 1 && std::set<long long>(frames.begin(), frames.end()).size() != frames.size())
    throw std::runtime_error("--render-threads renders each frame once: --render lists a frame twice");
  auto blank = [&](size_t i) { return blankOutput(toPixels(plans[i].region, host.options.renderScale)); };
  for (size_t i = 0; i < frames.size(); ++i) host.outputs[std::to_string(frames[i])] = blank(i);

  // The locale once the user's edits are in (the host's own parsing of --param stays in C's).
  if (!host.options.locale.empty()) {
    if (std::setlocale(LC_ALL, host.options.locale.c_str()) == nullptr)
      throw std::runtime_error("the locale " + host.options.locale + " is not available here");
    emit("{\"event\":\"locale\",\"name\":" + jsonString(host.options.locale) + "}");
  }
  const auto [lowest, highest] = std::minmax_element(frames.begin(), frames.end());
  sequenceRender(plugin, effect, kOfxImageEffectActionBeginSequenceRender, *lowest, *highest, threads <= 1);
  std::atomic<size_t> next{0};
  std::thread destroyer;
  if (host.options.destroyAfter >= 0.0)
    destroyer = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(host.options.destroyAfter));
      require(call(plugin, kOfxActionDestroyInstance, &effect), kOfxActionDestroyInstance);
      host.destroyed = true;
      emit("{\"event\":\"destroyed\"}");
    });
  onThreads(threads, [&] {
    for (size_t i = next++; i < frames.size(); i = next++) {
      // A frame rendered again starts from a blank output, as a fresh render does.
      if (threads <= 1) host.outputs[std::to_string(frames[i])] = blank(i);
      if (threads <= 1 && (long long)i == args.pauseBefore) pause(args.pausePath);
      renderFrame(plugin, effect, args, frames[i], plans[i]);
    }
  });
  if (destroyer.joinable()) destroyer.join();
  if (!host.destroyed)
    sequenceRender(plugin, effect, kOfxImageEffectActionEndSequenceRender, *lowest, *highest, threads <= 1);
  if (!host.images.empty()) {
    emit("{\"event\":\"violation\",\"what\":\"" + std::to_string(host.images.size()) +
         " images were not released after the renders\"}");
    host.images.clear();
  }
  host.outputs.clear();

  if (!host.destroyed) require(call(plugin, kOfxActionDestroyInstance, &effect), kOfxActionDestroyInstance);
  require(call(plugin, kOfxActionUnload, nullptr), kOfxActionUnload);
  emit("{\"event\":\"unloaded\"}");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& error) {
    emit("{\"event\":\"host_error\",\"what\":" + jsonString(error.what()) + "}");
    std::cerr << "ofx_test_host: " << error.what() << std::endl;
    return 2;
  }
}
