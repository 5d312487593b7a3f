#include "settings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "fusion_client.hpp"
#include "host_suites.hpp"
#include "ofx/names.h"

namespace movingcolor {

namespace {

// Describing waits this long for a server: a missing one must not hold up the host's start for
// long, and a server's first GetInfo (which loads its device libraries) may take a few seconds.
constexpr double kAskSeconds = 5.0;

// What the engine choice offers, and where the list came from (for its hint).
struct OfferedEngines {
  std::vector<std::string> names;
  std::string origin;
};

OfferedEngines askEngines() {
  OfferedEngines offered{builtinEngines(), ""};
  const std::string address = defaultServer();
  std::string error;
  const std::vector<std::string> served = FusionClient(address).engines(kAskSeconds, error);
  if (served.empty()) {
    offered.origin = " No server answered at " + address + " when the plugin loaded (" + error +
                     "), so the built-in engines are listed; set MOVINGCOLOR_SERVER and restart the host "
                     "to list a server's own.";
    std::fprintf(stderr, "movingcolor-ofx: %s\n", offered.origin.c_str() + 1);
    return offered;
  }
  for (const auto& name : served)
    if (std::find(offered.names.begin(), offered.names.end(), name) == offered.names.end())
      offered.names.push_back(name);
  offered.origin = " Engines of the server at " + address + ", asked when the plugin loaded.";
  return offered;
}

// Asked once per process: every context's description, and every render, sees the same list.
const OfferedEngines& offeredEngines() {
  static std::once_flag once;
  static OfferedEngines offered;
  std::call_once(once, [] { offered = askEngines(); });
  return offered;
}

}  // namespace

const std::vector<std::string>& builtinEngines() {
  static const std::vector<std::string> names{"guided", "movingcolor", "feather", "hard"};
  return names;
}

const std::vector<std::string>& engineNames() { return offeredEngines().names; }

std::string defaultServer() {
  const char* address = std::getenv("MOVINGCOLOR_SERVER");
  return address != nullptr && *address != '\0' ? address : "127.0.0.1:50051";
}

namespace {

OfxPropertySetHandle define(OfxParamSetHandle params, const char* type, const char* name, const char* label,
                            const char* hint) {
  OfxPropertySetHandle props = nullptr;
  suites.parameters->paramDefine(params, type, name, &props);
  setString(props, kOfxPropLabel, label);
  setString(props, kOfxParamPropHint, hint);
  return props;
}

OfxPropertySetHandle defineDouble(OfxParamSetHandle params, const char* name, const char* label,
                                  const char* hint, double fallback, double minimum, double maximum,
                                  double displayMax) {
  OfxPropertySetHandle props = define(params, kOfxParamTypeDouble, name, label, hint);
  setDouble(props, kOfxParamPropDefault, fallback);
  setDouble(props, kOfxParamPropMin, minimum);
  setDouble(props, kOfxParamPropMax, maximum);
  setDouble(props, kOfxParamPropDisplayMin, std::max(minimum, 0.0));
  setDouble(props, kOfxParamPropDisplayMax, displayMax);
  return props;
}

// A one-line text that does not animate: it names a thing (an address, a colourspace).
void defineText(OfxParamSetHandle params, const char* name, const char* label, const char* hint,
                const char* fallback) {
  OfxPropertySetHandle props = define(params, kOfxParamTypeString, name, label, hint);
  setString(props, kOfxParamPropDefault, fallback);
  setString(props, kOfxParamPropStringMode, kOfxParamStringIsSingleLine);
  setInt(props, kOfxParamPropAnimates, 0);
}

// Three numbers, one per channel, as a 3-D double rather than an RGB colour: hosts show colours with
// pickers that clamp to 0..1, and a slope of 1.5 or an offset of -0.1 is a common grade.
void defineTriple(OfxParamSetHandle params, const char* name, const char* label, const char* hint,
                  double fallback, double minimum, double maximum, double displayMin, double displayMax) {
  OfxPropertySetHandle props = define(params, kOfxParamTypeDouble3D, name, label, hint);
  for (int i = 0; i < 3; ++i) {
    setDouble(props, kOfxParamPropDefault, fallback, i);
    setDouble(props, kOfxParamPropMin, minimum, i);
    setDouble(props, kOfxParamPropMax, maximum, i);
    setDouble(props, kOfxParamPropDisplayMin, displayMin, i);
    setDouble(props, kOfxParamPropDisplayMax, displayMax, i);
    setString(props, kOfxParamPropDimensionLabel, std::string(1, "rgb"[i]), i);
  }
}

OfxParamHandle handle(OfxImageEffectHandle effect, const char* name) {
  OfxParamSetHandle params = nullptr;
  suites.effects->getParamSet(effect, &params);
  OfxParamHandle param = nullptr;
  suites.parameters->paramGetHandle(params, name, &param, nullptr);
  return param;
}

// Numbers are written the same in every locale: a host that runs in a language whose decimal mark
// is a comma (Qt applications set the process's locale) would send "12,5", which the server refuses.
std::string number(double value) {
  char text[40];
  const auto written = std::to_chars(text, text + sizeof text, value, std::chars_format::general, 17);
  return std::string(text, written.ptr);
}

std::string triple(const std::array<double, 3>& values) {
  return number(values[0]) + "," + number(values[1]) + "," + number(values[2]);
}

}  // namespace

void defineParameters(OfxParamSetHandle params) {
  defineText(params, param::kServer, "Server",
             "The MovingColor server: host:port or unix:///path/to.sock "
             "(start one with: movingcolor serve). A token comes from $MOVINGCOLOR_TOKEN.",
             defaultServer().c_str());

  const std::string engineHint =
      "How the edge band is decided: guided (a guided-filter matte, steady over the window), "
      "movingcolor (the network), feather, hard (the plain composite)." +
      offeredEngines().origin;
  OfxPropertySetHandle engine =
      define(params, kOfxParamTypeChoice, param::kEngine, "Engine", engineHint.c_str());
  const auto& names = engineNames();
  for (size_t i = 0; i < names.size(); ++i) setString(engine, kOfxParamPropChoiceOption, names[i], int(i));
  setInt(engine, kOfxParamPropDefault, 0);
  setInt(engine, kOfxParamPropAnimates, 0);
  OfxPropertySetHandle engineName =
      define(params, kOfxParamTypeString, param::kEngineName, "Engine name",
             "The chosen engine's name, kept beside the choice (hosts save a choice by its position)");
  setString(engineName, kOfxParamPropDefault, "");
  setInt(engineName, kOfxParamPropSecret, 1);
  setInt(engineName, kOfxParamPropAnimates, 0);

  // Display ranges as colour tools show a CDL (slope and power 0 to 4, offset -0.2 to 0.2); the limits
  // are the server's.
  defineTriple(params, param::kSlope, "CDL slope", "ASC CDL slope per channel (0 to 100)", 1.0, 0.0,
               kMaxSlope, 0.0, 4.0);
  defineTriple(params, param::kOffset, "CDL offset", "ASC CDL offset per channel (-10 to 10)", 0.0,
               -kMaxOffset, kMaxOffset, -0.2, 0.2);
  defineTriple(params, param::kPower, "CDL power", "ASC CDL power per channel (above 0, at most 100)", 1.0,
               1e-6, kMaxPower, 1e-6, 4.0);
  defineDouble(params, param::kSaturation, "CDL saturation", "ASC CDL saturation (0 to 100)", 1.0, 0.0,
               kMaxSaturation, 4.0);

  defineDouble(params, param::kBandWidth, "Band width",
               "Width of the edge band around the matte's boundary whose colours are re-decided "
               "(pixels at full resolution, or percent of the object's size)",
               kDefaultBandWidth, 1e-3, 1e6, 64.0);
  OfxPropertySetHandle unit = define(params, kOfxParamTypeChoice, param::kBandUnit, "Band unit",
                                     "pixels, or percent of the object's size");
  setString(unit, kOfxParamPropChoiceOption, "pixels", 0);
  setString(unit, kOfxParamPropChoiceOption, "percent of object", 1);
  setInt(unit, kOfxParamPropDefault, 0);
  setInt(unit, kOfxParamPropAnimates, 0);

  OfxPropertySetHandle radius =
      define(params, kOfxParamTypeInteger, param::kWindowRadius, "Window radius",
             "Frames each side of the rendered frame sent with it (the guided engine reads 2)");
  setInt(radius, kOfxParamPropDefault, 2);
  setInt(radius, kOfxParamPropMin, 0);
  setInt(radius, kOfxParamPropMax, kMaxWindowRadius);
  setInt(radius, kOfxParamPropDisplayMin, 0);
  setInt(radius, kOfxParamPropDisplayMax, 8);
  setInt(radius, kOfxParamPropAnimates, 0);

  defineText(params, param::kColorspace, "Colourspace",
             "OpenColorIO name of the host's working space (empty: scene-linear as the server's config "
             "defines it); the fused frame comes back in the same space",
             "");

  OfxPropertySetHandle timeLimit =
      defineDouble(params, param::kTimeLimit, "Time limit",
                   "Seconds a frame may take on the server; beyond it the source is shown un-fused", 60.0,
                   0.1, 3600.0, 300.0);
  setInt(timeLimit, kOfxParamPropAnimates, 0);
}

Settings readSettings(OfxImageEffectHandle effect, OfxTime time) {
  const OfxParameterSuiteV1* p = suites.parameters;
  auto at = [p, effect, time](const char* name, auto... values) {
    return p->paramGetValueAtTime(handle(effect, name), time, values...);
  };
  Settings s;
  char* text = nullptr;
  if (at(param::kServer, &text) == kOfxStatOK && text) s.server = text;
  text = nullptr;
  if (at(param::kColorspace, &text) == kOfxStatOK && text) s.colorspace = text;
  int engine = 0;
  at(param::kEngine, &engine);
  const auto& names = engineNames();
  const std::string chosen = engine >= 0 && size_t(engine) < names.size() ? names[size_t(engine)] : "";
  std::string saved;
  text = nullptr;
  if (at(param::kEngineName, &text) == kOfxStatOK && text) saved = text;
  if (saved.empty() || saved == chosen) {
    s.engine = chosen;
  } else if (std::find(names.begin(), names.end(), saved) != names.end()) {
    s.engine = saved;  // the choice lists the engines in another order than when the node was saved
  } else {
    s.unofferedEngine = saved;
  }
  at(param::kSlope, &s.slope[0], &s.slope[1], &s.slope[2]);
  at(param::kOffset, &s.offset[0], &s.offset[1], &s.offset[2]);
  at(param::kPower, &s.power[0], &s.power[1], &s.power[2]);
  at(param::kSaturation, &s.saturation);
  at(param::kBandWidth, &s.bandWidth);
  int unit = 0;
  at(param::kBandUnit, &unit);
  s.bandPercent = unit == 1;
  if (unit != 0 && unit != 1) s.bandWidth = -1.0;  // an unknown unit: refused below
  at(param::kWindowRadius, &s.windowRadius);
  at(param::kTimeLimit, &s.timeLimit);
  return s;
}

void syncEngineName(OfxImageEffectHandle effect, bool choiceChanged) {
  const OfxParameterSuiteV1* p = suites.parameters;
  OfxParamHandle choice = handle(effect, param::kEngine), nameParam = handle(effect, param::kEngineName);
  if (choice == nullptr || nameParam == nullptr) return;
  int index = 0;
  char* text = nullptr;
  if (p->paramGetValue(choice, &index) != kOfxStatOK) return;
  const std::string saved = p->paramGetValue(nameParam, &text) == kOfxStatOK && text ? text : "";
  const auto& names = engineNames();
  const bool known = index >= 0 && size_t(index) < names.size();
  if (choiceChanged || saved.empty()) {
    // A choice out of the list's range (a host's fault) keeps no name: it is refused as it is.
    const std::string now = known ? names[size_t(index)] : "";
    if (now != saved) p->paramSetValue(nameParam, now.c_str());
    return;
  }
  const auto found = std::find(names.begin(), names.end(), saved);
  if (found != names.end() && found - names.begin() != index) p->paramSetValue(choice, int(found - names.begin()));
}

namespace {

// What is wrong with a server address, "" when it has a form `movingcolor serve --address` takes:
// unix:///path (or unix:path) or host:port ([v6]:port), the port 1 to 65535 (gRPC would take a bare
// host as port 0, wrap a port over 65535, and look a path up as a host name).
std::string addressProblem(const std::string& address) {
  const std::string forms = "give host:port (127.0.0.1:50051) or unix:///path/to.sock";
  if (address.rfind("unix:", 0) == 0) {
    std::string path = address.substr(5);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    return path.empty() ? "Server '" + address + "' names no socket file: write unix:///path/to.sock" : "";
  }
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (!address.empty() && address.front() == '/')
    return "Server '" + address + "' is a path: write unix://" + address + " for a socket file";
  if (host.empty() || port.empty() || (!bracketed && host.find_first_of(":/[]") != std::string::npos))
    return "Server '" + address + "' is neither host:port nor unix:///path: " + forms;
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) < 1 ||
      std::stoi(port) > 65535)
    return "Server '" + address + "': port " + port + " is not a port (1 to 65535); " + forms;
  return "";
}

}  // namespace

std::string check(const Settings& s) {
  if (s.server.find_first_not_of(" \t") == std::string::npos)
    return "Server is empty: give the server's address, host:port (127.0.0.1:50051) or unix:///path/to.sock";
  if (s.server.find_first_of(" \t\r\n") != std::string::npos)
    return "Server '" + s.server + "' contains spaces: give host:port or unix:///path/to.sock";
  if (const std::string problem = addressProblem(s.server); !problem.empty()) return problem;
  if (s.engine.empty()) {
    std::string names;
    for (const auto& name : engineNames()) names += (names.empty() ? "" : ", ") + name;
    if (!s.unofferedEngine.empty())
      return "Engine: this node was saved with the engine '" + s.unofferedEngine +
             "', which the engine choice does not offer now (the plugin lists the engines of the "
             "server at $MOVINGCOLOR_SERVER when the host starts); pick one of " + names +
             ", or start the host beside a server that has it";
    return "Engine: unknown choice; pick one of " + names;
  }
  auto within = [](const std::array<double, 3>& v, double low, double high) {
    return std::all_of(v.begin(), v.end(),
                       [=](double x) { return std::isfinite(x) && x >= low && x <= high; });
  };
  if (!within(s.slope, 0.0, kMaxSlope))
    return "CDL slope " + triple(s.slope) + " is not allowed: each slope must be from 0 to " +
           number(kMaxSlope);
  if (!within(s.offset, -kMaxOffset, kMaxOffset))
    return "CDL offset " + triple(s.offset) + " is not allowed: each offset must be from " +
           number(-kMaxOffset) + " to " + number(kMaxOffset);
  if (!within(s.power, 0.0, kMaxPower) || s.power[0] <= 0 || s.power[1] <= 0 || s.power[2] <= 0)
    return "CDL power " + triple(s.power) + " is not allowed: each power must be above 0 and at most " +
           number(kMaxPower);
  if (!std::isfinite(s.saturation) || s.saturation < 0 || s.saturation > kMaxSaturation)
    return "CDL saturation " + number(s.saturation) + " is not allowed: give 0 to " + number(kMaxSaturation);
  if (!std::isfinite(s.bandWidth) || s.bandWidth <= 0)
    return "Band width " + number(s.bandWidth) + " is not allowed: give a width above 0";
  if (s.bandPercent && s.bandWidth > 100)
    return "Band width " + number(s.bandWidth) + "% is not allowed: a percentage must be at most 100";
  if (s.windowRadius < 0 || s.windowRadius > kMaxWindowRadius)
    return "Window radius " + std::to_string(s.windowRadius) + " is not allowed: give 0 to " +
           std::to_string(kMaxWindowRadius) + " frames";
  if (!std::isfinite(s.timeLimit) || s.timeLimit < 0.1 || s.timeLimit > 3600)
    return "Time limit " + number(s.timeLimit) + " s is not allowed: give 0.1 to 3600 seconds";
  return "";
}

bool isIdentityGrade(const Settings& s) {
  const std::array<double, 3> ones{1.0, 1.0, 1.0}, zeros{0.0, 0.0, 0.0};
  return s.slope == ones && s.offset == zeros && s.power == ones && s.saturation == 1.0;
}

std::string cdlText(const Settings& s) {
  return "slope=" + triple(s.slope) + ";offset=" + triple(s.offset) + ";power=" + triple(s.power) +
         ";sat=" + number(s.saturation);
}

std::string bandText(const Settings& s, double renderScale) {
  char text[400];
  // The server takes plain decimals ("12", "6.5", "10%"), never exponents, in any locale.
  const double width = s.bandPercent ? s.bandWidth : std::max(s.bandWidth * renderScale, 1e-6);
  const auto written = std::to_chars(text, text + sizeof text, width, std::chars_format::fixed, 6);
  return std::string(text, written.ptr) + (s.bandPercent ? "%" : "");
}

}  // namespace movingcolor
