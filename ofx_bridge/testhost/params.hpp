// The test host's parameters: values, keyframes and the parameter suite over them. Double
// parameters (1-D, 3-D and RGB) may carry keyframes, interpolated linearly between keys and held
// before the first and after the last, as the simplest curve a host offers.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ofx/suites.h"
#include "properties.hpp"

namespace testhost {

struct Param {
  std::string type, name;
  PropertySet props;
  std::array<double, 3> doubles{0, 0, 0};
  int integer = 0;
  std::string text;
  std::map<double, std::array<double, 3>> keys;  // by time; the static `doubles` when empty

  bool holdsDoubles() const;  // a double, 3-D double or RGB parameter: the kinds that may be keyed
  int dimension() const;      // numbers in one value of a double parameter (1 or 3)
  std::array<double, 3> doublesAt(double time) const;
};

struct ParamSet {
  PropertySet props;
  std::map<std::string, std::unique_ptr<Param>> params;
  std::vector<std::string> order;
};

// The value a user typed: a number, numbers a,b,c for 3-D and RGB parameters, an option or an
// index for a choice, text. Throws std::runtime_error naming the parameter on bad input.
void setParam(Param& param, const std::string& value);

// A keyframe at `time` from the same text as setParam; refused for parameters that do not animate.
void setKey(Param& param, double time, const std::string& value);

// An instance parameter starts at its descriptor's default, as in any host.
void initialise(Param& param);

// The parameter suite. paramGetValue answers the value at the host's current time (the first frame:
// where the timeline sits), and its use inside an action that renders at a time is recorded as a
// violation: the standard has those actions read paramGetValueAtTime.
const OfxParameterSuiteV1* parameterSuite();

}  // namespace testhost
