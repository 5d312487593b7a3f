// ofx_test_host: a minimal OpenFX host that loads a plugin binary and drives it
// as an editing or compositing host would: load, describe, describe in a context,
// create an instance, set parameters, then for each frame get-frames-needed and
// render. Frames come from raw files (see raw_frames.hpp); what happened is
// printed as JSON lines (describe, frames_needed, fetch, message, render, ...).
//
//   ofx_test_host --plugin MovingColor.ofx --frames DIR --out DIR [--context filter|general]
//                 [--render 3,4,3] [--param name=value]... [--scale 0.5] [--origin X,Y]
//                 [--negative-rowbytes] [--cpus N] [--message-suite 1|2] [--no-matte] [--no-graded]
//                 [--abort] [--abort-after SECONDS] [--render-threads N]
//
// DIR holds source.N.raw (RGBA), and optionally matte.N.raw (A or RGBA) and graded.N.raw (RGBA).
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ofx/names.h"
#include "suites.hpp"

namespace fs = std::filesystem;
using namespace testhost;

namespace {

struct Arguments {
  std::string plugin, frames, out, context = kOfxImageEffectContextGeneral;
  std::vector<long long> render;
  std::vector<std::pair<std::string, std::string>> params;
  bool matte = true, graded = true;
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
    else if (flag == "--no-matte")
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

void emit(const std::string& json) {
  // Render threads print too: one line at a time.
  static std::mutex lock;
  std::lock_guard<std::mutex> guard(lock);
  std::cout << json << std::endl;
}

void flushJournal() {
  Journal& journal = state().journal;
  std::lock_guard<std::mutex> guard(journal.lock);
  for (const auto& event : journal.events) emit(event);
  journal.events.clear();
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

OfxStatus call(OfxPlugin* plugin, const char* action, void* handle, PropertySet* in = nullptr,
               PropertySet* out = nullptr) {
  OfxStatus status =
      plugin->mainEntry(action, handle, in ? in->handle() : nullptr, out ? out->handle() : nullptr);
  flushJournal();
  return status;
}

void require(OfxStatus status, const char* action) {
  if (status != kOfxStatOK && status != kOfxStatReplyDefault)
    throw std::runtime_error(std::string(action) + " failed with status " + std::to_string(status));
}

std::string strings(const PropertySet& set, const std::string& name) {
  std::string out = "[";
  const Property* p = set.find(name);
  for (size_t i = 0; p && i < p->strings.size(); ++i) out += (i ? "," : "") + jsonString(p->strings[i]);
  return out + "]";
}

void setParam(Param& param, const std::string& value) {
  if (param.type == kOfxParamTypeString) {
    param.text = value;
  } else if (param.type == kOfxParamTypeDouble) {
    param.doubles[0] = std::stod(value);
  } else if (param.type == kOfxParamTypeRGB) {
    const auto parts = split(value, ',');
    if (parts.size() != 3) throw std::runtime_error(param.name + " takes three numbers a,b,c");
    for (int i = 0; i < 3; ++i) param.doubles[i] = std::stod(parts[size_t(i)]);
  } else if (param.type == kOfxParamTypeChoice) {
    const Property* options = param.props.find(kOfxParamPropChoiceOption);
    param.integer = -1;
    for (size_t i = 0; options && i < options->strings.size(); ++i)
      if (options->strings[i] == value) param.integer = int(i);
    if (param.integer < 0) param.integer = std::stoi(value);  // an index, possibly out of range
  } else {
    param.integer = std::stoi(value);
  }
}

// An instance parameter starts at its descriptor's default, as in any host.
void initialise(Param& param) {
  if (param.type == kOfxParamTypeString)
    param.text = param.props.getString(kOfxParamPropDefault);
  else if (param.type == kOfxParamTypeDouble)
    param.doubles[0] = param.props.getDouble(kOfxParamPropDefault);
  else if (param.type == kOfxParamTypeRGB)
    for (int i = 0; i < 3; ++i) param.doubles[i] = param.props.getDouble(kOfxParamPropDefault, i);
  else
    param.integer = param.props.getInt(kOfxParamPropDefault);
}

// What getFramesNeeded declares for a render at `frame`: the frames each input clip may be fetched at.
NeededFrames framesNeeded(OfxPlugin* plugin, Effect& effect, long long frame) {
  PropertySet neededArgs, needed;
  neededArgs.setDouble(kOfxPropTime, double(frame));
  for (const auto& [name, clip] : effect.clips) {
    if (name == kOfxImageEffectOutputClipName) continue;
    const std::string property = std::string(kOfxImageClipPropFrameRange) + "_" + name;
    needed.setDouble(property, double(frame), 0);  // the host's default: the frame itself
    needed.setDouble(property, double(frame), 1);
  }
  require(call(plugin, kOfxImageEffectActionGetFramesNeeded, &effect, &neededArgs, &needed),
          kOfxImageEffectActionGetFramesNeeded);
  NeededFrames ranges;
  std::string json = "{";
  for (const auto& [name, clip] : effect.clips) {
    if (name == kOfxImageEffectOutputClipName) continue;
    const std::string property = std::string(kOfxImageClipPropFrameRange) + "_" + name;
    const long long from = std::llround(needed.getDouble(property, 0)),
                    to = std::llround(needed.getDouble(property, 1));
    ranges[name] = {from, to};
    json += std::string(json.size() > 1 ? "," : "") + jsonString(name) + ":[" + std::to_string(from) + "," +
            std::to_string(to) + "]";
  }
  emit("{\"event\":\"frames_needed\",\"frame\":" + std::to_string(frame) + ",\"ranges\":" + json + "}}");
  return ranges;
}

// An Output image for `frame` whose every sample is NaN, so a plugin that skips any pixel shows.
std::unique_ptr<Image> blankOutput(Effect& effect, long long frame) {
  const RawFrame& sourceFrame = effect.clips["Source"]->frames.at(frame);
  RawFrame blank{sourceFrame.width, sourceFrame.height, 4, {}};
  blank.samples.assign(size_t(blank.width) * size_t(blank.height) * 4, std::nanf(""));
  return makeImage(blank, state().options.renderScale);
}

// One render of `frame` into its Output image, on the calling thread; writes out.<frame>.raw.
void renderFrame(OfxPlugin* plugin, Effect& effect, const Arguments& args, long long frame,
                 const NeededFrames& needed) {
  HostState& host = state();
  const Options& o = host.options;
  const RawFrame& sourceFrame = effect.clips["Source"]->frames.at(frame);
  PropertySet renderArgs;
  renderArgs.setDouble(kOfxPropTime, double(frame));
  renderArgs.setString("OfxImageEffectPropFieldToRender", "OfxImageFieldNone");
  const int window[4] = {o.originX, o.originY, o.originX + sourceFrame.width, o.originY + sourceFrame.height};
  for (int i = 0; i < 4; ++i) renderArgs.setInt(kOfxImageEffectPropRenderWindow, window[i], i);
  renderArgs.setDouble(kOfxImageEffectPropRenderScale, o.renderScale, 0);
  renderArgs.setDouble(kOfxImageEffectPropRenderScale, o.renderScale, 1);
  const auto started = std::chrono::steady_clock::now();
  beginRenderOnThisThread(&needed, started);
  const OfxStatus status = call(plugin, kOfxImageEffectActionRender, &effect, &renderArgs);
  beginRenderOnThisThread(nullptr, started);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (o.renderThreads <= 1 && !host.images.empty()) {
    emit("{\"event\":\"violation\",\"what\":\"" + std::to_string(host.images.size()) +
         " images were not released after the render\"}");
    host.images.clear();
  }
  const std::string path = args.out + "/out." + std::to_string(frame) + ".raw";
  writeRawFrame(path, host.outputs.at(std::to_string(frame))->toRaw());
  char timing[32];
  std::snprintf(timing, sizeof timing, "%.4f", seconds);
  emit("{\"event\":\"render\",\"frame\":" + std::to_string(frame) + ",\"status\":" + std::to_string(status) +
       ",\"seconds\":" + timing + ",\"output\":" + jsonString(path) + "}");
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
       std::to_string(descriptor.props.getInt(kOfxImageEffectPropTemporalClipAccess)) + "}");

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
    paramList += std::string(paramList.size() > 1 ? "," : "") + "{\"name\":" + jsonString(name) +
                 ",\"type\":" + jsonString(effect.params.params[name]->type) + "}";
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
  require(call(plugin, kOfxActionCreateInstance, &effect), kOfxActionCreateInstance);

  for (const auto& [name, value] : args.params) {
    auto it = effect.params.params.find(name);
    if (it == effect.params.params.end()) throw std::runtime_error("the plugin has no parameter " + name);
    setParam(*it->second, value);
    PropertySet changed;
    changed.setString(kOfxPropType, kOfxTypeParameter);
    changed.setString(kOfxPropName, name);
    changed.setString(kOfxPropChangeReason, kOfxChangeUserEdited);
    changed.setDouble(kOfxPropTime, double(first));
    changed.setDouble(kOfxImageEffectPropRenderScale, host.options.renderScale, 0);
    changed.setDouble(kOfxImageEffectPropRenderScale, host.options.renderScale, 1);
    const OfxStatus status = call(plugin, kOfxActionInstanceChanged, &effect, &changed);
    emit("{\"event\":\"instance_changed\",\"param\":" + jsonString(name) +
         ",\"status\":" + std::to_string(status) + "}");
  }

  fs::create_directories(args.out);
  std::vector<long long> frames = args.render;
  if (frames.empty())
    for (long long f = first; f <= last; ++f) frames.push_back(f);
  // Every render's frames needed first, as a host asks before it schedules renders.
  std::vector<NeededFrames> needs;
  for (long long frame : frames) needs.push_back(framesNeeded(plugin, effect, frame));
  const unsigned int threads = host.options.renderThreads;
  if (threads > 1 && std::set<long long>(frames.begin(), frames.end()).size() != frames.size())
    throw std::runtime_error("--render-threads renders each frame once: --render lists a frame twice");
  for (long long frame : frames) host.outputs[std::to_string(frame)] = blankOutput(effect, frame);

  std::atomic<size_t> next{0};
  auto renderAll = [&] {
    for (size_t i = next++; i < frames.size(); i = next++) {
      // A frame rendered again starts from a blank output, as a fresh render does.
      if (threads <= 1) host.outputs[std::to_string(frames[i])] = blankOutput(effect, frames[i]);
      renderFrame(plugin, effect, args, frames[i], needs[i]);
    }
  };
  std::vector<std::thread> workers;
  for (unsigned int i = 1; i < threads; ++i) workers.emplace_back(renderAll);
  renderAll();
  for (auto& worker : workers) worker.join();
  if (!host.images.empty()) {
    emit("{\"event\":\"violation\",\"what\":\"" + std::to_string(host.images.size()) +
         " images were not released after the renders\"}");
    host.images.clear();
  }
  host.outputs.clear();

  require(call(plugin, kOfxActionDestroyInstance, &effect), kOfxActionDestroyInstance);
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
