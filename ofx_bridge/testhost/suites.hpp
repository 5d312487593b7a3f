// The test host's objects (effects, clips, parameters, images) and the suites
// it hands the plugin: image effect, parameter, memory, multi-thread, message.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ofx/core.h"
#include "params.hpp"
#include "properties.hpp"
#include "raw_frames.hpp"

namespace testhost {

struct Options {
  double renderScale = 1.0;
  int originX = 0, originY = 0;       // the images' bounds start here, not at 0
  bool negativeRowBytes = false;      // rows run down through memory
  unsigned int cpus = 4;              // what multiThreadNumCPUs answers
  int messageVersion = 2;             // the newest message suite offered (1 or 2)
  bool abort = false;                 // the user stops every render at once
  double abortAfter = -1.0;           // ... or once a render has run this many seconds (when 0 or more)
  unsigned int renderThreads = 1;     // frames rendered at once, each on its own thread
  bool renderOnSuiteThreads = false;  // ... those threads being the multi-thread suite's own
  bool interactive = false;           // renders are a viewer's, not a final render's
  bool premultiplied = false;         // RGBA images are premultiplied by their alpha (a keyed element)
  double timeOffset = 0.0;            // every action's time is the frame plus this (a sub-frame render)
  bool blendSubframes = false;        // an image fetched between frames blends the two, as a retime does
  std::string locale;                 // the process's locale during the renders, as a Qt host sets it
  bool omitInteractiveStatus = false; // renders say neither interactive nor final, as some hosts do
  double destroyAfter = -1.0;         // the instance destroyed this many seconds into the renders
};

struct Clip {
  std::string name;
  PropertySet props;
  std::map<long long, RawFrame> frames;
};

struct Effect {
  PropertySet props;
  std::map<std::string, std::unique_ptr<Clip>> clips;
  std::vector<std::string> clipOrder;
  ParamSet params;
};

struct Image {
  PropertySet props;
  std::vector<char> memory;
  int width = 0, height = 0, channels = 0;
  long stride = 0;
  // The pixel memory as the plugin addresses it, converted back to top-down rows.
  RawFrame toRaw() const;
};

// Everything the host records for the tests: messages, image fetches, rule breaks.
struct Journal {
  std::mutex lock;
  std::vector<std::string> events;  // JSON objects, one per line of output
  void add(const std::string& json);
};

struct HostState {
  Options options;
  double currentTime = 0.0;  // where the timeline sits: what paramGetValue reads at
  PropertySet hostProps;
  OfxHost ofxHost{};
  Journal journal;
  std::map<PropertySet*, std::unique_ptr<Image>> images;  // fetched and not yet released
  std::map<std::string, std::unique_ptr<Image>> outputs;  // the Output image of each render, by frame
  std::atomic<bool> destroyed{false};  // destroyInstance has returned: the instance's handle is dead
};

HostState& state();

// The frames each input clip may be fetched at by one render: what getFramesNeeded declared.
// The times each clip's images may be fetched at (kOfxImageClipPropFrameRange_<clip>), by clip.
using NeededFrames = std::map<std::string, std::pair<double, double>>;

// What the plugin declared for one render: the frames and, per input clip, the region (canonical
// coordinates) it reads; images are fetched cropped to that region, as a host may give them.
struct RenderRequest {
  NeededFrames needed;
  std::map<std::string, OfxRectD> regionsOfInterest;
};

// Marks a render under way on the calling thread (`request` nullptr: none); image fetches are
// checked against it, and --abort-after counts from `started`.
void beginRenderOnThisThread(const RenderRequest* request, std::chrono::steady_clock::time_point started);

// The action the calling thread is in (nullptr: none), for the rules that depend on it.
void setActionOnThisThread(const char* action);
// The action the calling thread is in when it is one that works at a time (render, frames needed,
// regions, identity, sequence render); nullptr otherwise.
const char* timedActionOnThisThread();

// Canonical coordinates to the pixel rectangle covering them at `scale`.
OfxRectI toPixels(const OfxRectD& canonical, double scale);

// A fresh image of `frame` with its bottom-left pixel at (x1, y1), at `scale`, in the options' row order.
std::unique_ptr<Image> makeImage(const RawFrame& frame, double scale, int x1, int y1);

// The suite a plugin asks for; nullptr when the host has none of that name and version.
const void* fetchSuite(OfxPropertySetHandle host, const char* name, int version);

std::string jsonString(const std::string& text);
// A number as JSON writes it: whole numbers without a fraction.
std::string jsonNumber(double value);

// The time the host asks for `frame` at: the frame, plus --time-offset.
double actionTime(long long frame);

}  // namespace testhost
