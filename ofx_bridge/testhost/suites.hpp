// The test host's objects (effects, clips, parameters, images) and the suites
// it hands the plugin: image effect, parameter, memory, multi-thread, message.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ofx/core.h"
#include "properties.hpp"
#include "raw_frames.hpp"

namespace testhost {

struct Options {
  double renderScale = 1.0;
  int originX = 0, originY = 0;    // the images' bounds start here, not at 0
  bool negativeRowBytes = false;   // rows run down through memory
  unsigned int cpus = 4;           // what multiThreadNumCPUs answers
  int messageVersion = 2;          // the newest message suite offered (1 or 2)
  bool abort = false;              // the user stops every render at once
  double abortAfter = -1.0;        // ... or once a render has run this many seconds (when 0 or more)
  unsigned int renderThreads = 1;  // frames rendered at once, each on its own thread
};

struct Clip {
  std::string name;
  PropertySet props;
  std::map<long long, RawFrame> frames;
};

struct Param {
  std::string type, name;
  PropertySet props;
  double doubles[3] = {0, 0, 0};
  int integer = 0;
  std::string text;
};

struct ParamSet {
  PropertySet props;
  std::map<std::string, std::unique_ptr<Param>> params;
  std::vector<std::string> order;
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
  PropertySet hostProps;
  OfxHost ofxHost{};
  Journal journal;
  std::map<PropertySet*, std::unique_ptr<Image>> images;  // fetched and not yet released
  std::map<std::string, std::unique_ptr<Image>> outputs;  // the Output image of each render, by frame
};

HostState& state();

// The frames each input clip may be fetched at by one render: what getFramesNeeded declared.
using NeededFrames = std::map<std::string, std::pair<long long, long long>>;

// Marks a render under way on the calling thread (`needed` nullptr: none); image fetches are
// checked against `needed`, and --abort-after counts from `started`.
void beginRenderOnThisThread(const NeededFrames* needed, std::chrono::steady_clock::time_point started);

// A fresh image of `frame` at the options' origin, scale and row order.
std::unique_ptr<Image> makeImage(const RawFrame& frame, double scale);

// The suite a plugin asks for; nullptr when the host has none of that name and version.
const void* fetchSuite(OfxPropertySetHandle host, const char* name, int version);

std::string jsonString(const std::string& text);

}  // namespace testhost
