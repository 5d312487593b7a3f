// The plugin's parameters: their definitions, their values at a time, and the
// checks that refuse values the server would misread or that make no sense.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "ofx/core.h"

namespace movingcolor {

namespace param {
constexpr const char* kServer = "server";
constexpr const char* kEngine = "engine";
// Hidden: the engine's name as last chosen. A host saves a choice as its index alone, and the
// choice lists a server's extra engines after the built-in ones: the same index can name another
// engine when the project reopens beside another server.
constexpr const char* kEngineName = "engineName";
constexpr const char* kSlope = "slope";
constexpr const char* kOffset = "offset";
constexpr const char* kPower = "power";
constexpr const char* kSaturation = "saturation";
constexpr const char* kBandWidth = "bandWidth";
constexpr const char* kBandUnit = "bandUnit";
constexpr const char* kWindowRadius = "windowRadius";
constexpr const char* kColorspace = "colorspace";
constexpr const char* kTimeLimit = "timeLimit";
}  // namespace param

// The engines every server has (movingcolor.spec.schema.BUILTIN_ENGINES), first in the engine
// choice in this order, so a saved project's choice index keeps its meaning.
const std::vector<std::string>& builtinEngines();

// Engines in the order of the engine choice: the built-in ones, then any other engine of the server
// the plugin asked when it was described ($MOVINGCOLOR_SERVER, else the default address). Fixed for
// the life of the process: OFX choice options are set at describe time.
const std::vector<std::string>& engineNames();

// The address asked at describe time and the Server parameter's default.
std::string defaultServer();

// The band width when none is given, in pixels (movingcolor.spec.schema.DEFAULT_BAND).
constexpr double kDefaultBandWidth = 12.0;

// Where the server takes each CDL number (movingcolor.color.grade.CDL_RANGES): far wider than any
// grade, so a typo cannot fill a frame with infinities. A power must also be above 0.
constexpr double kMaxSlope = 100.0, kMaxPower = 100.0, kMaxSaturation = 100.0;
constexpr double kMaxOffset = 10.0;  // offsets run from -kMaxOffset

// A window may send at most 64 frames (the server's default limit): radius 31 and the target.
constexpr int kMaxWindowRadius = 31;

struct Settings {
  std::string server;
  std::string engine;
  // The engine the node was saved with, where the choice no longer offers it (engine is then empty).
  std::string unofferedEngine;
  std::array<double, 3> slope{1.0, 1.0, 1.0};
  std::array<double, 3> offset{0.0, 0.0, 0.0};
  std::array<double, 3> power{1.0, 1.0, 1.0};
  double saturation = 1.0;
  double bandWidth = kDefaultBandWidth;
  bool bandPercent = false;
  int windowRadius = 2;
  std::string colorspace;
  double timeLimit = 60.0;
};

// Defines every parameter on a descriptor's parameter set.
void defineParameters(OfxParamSetHandle params);

// The values at `time` (paramGetValueAtTime: the standard's only read for render actions, and the
// one that follows keyframes); an engine index outside the choice reads as "" (refused by check).
Settings readSettings(OfxImageEffectHandle effect, OfxTime time);

// Keep the hidden engine name and the choice's index naming one engine: the name follows a user's
// choice (instanceChanged), and a project saved when the choice listed other engines gets back the
// index of its engine's name (createInstance); a project saved before the name was kept records it.
void syncEngineName(OfxImageEffectHandle effect, bool choiceChanged);

// What is wrong with `settings`, naming the parameter and the fix; "" when they can be used.
std::string check(const Settings& settings);

// True when the CDL changes no colour (slope 1, offset 0, power 1, saturation 1).
bool isIdentityGrade(const Settings& settings);

// The inline ASC CDL the server parses: "slope=r,g,b;offset=r,g,b;power=r,g,b;sat=s".
std::string cdlText(const Settings& settings);

// The band for the server at a render scale: pixels scale with the image, percentages do not.
std::string bandText(const Settings& settings, double renderScale);

}  // namespace movingcolor
