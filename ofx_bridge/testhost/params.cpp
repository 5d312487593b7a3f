#include "params.hpp"

#include <cmath>
#include <cstdarg>
#include <sstream>
#include <stdexcept>

#include "ofx/names.h"
#include "suites.hpp"

namespace testhost {

bool Param::holdsDoubles() const {
  return type == kOfxParamTypeDouble || type == kOfxParamTypeDouble3D || type == kOfxParamTypeRGB;
}

int Param::dimension() const { return type == kOfxParamTypeDouble ? 1 : 3; }

std::array<double, 3> Param::doublesAt(double time) const {
  if (keys.empty()) return doubles;
  auto after = keys.lower_bound(time);
  if (after == keys.begin()) return after->second;
  if (after == keys.end()) return keys.rbegin()->second;
  if (after->first == time) return after->second;
  auto before = std::prev(after);
  const double t = (time - before->first) / (after->first - before->first);
  std::array<double, 3> value;
  for (size_t i = 0; i < 3; ++i) value[i] = before->second[i] + t * (after->second[i] - before->second[i]);
  return value;
}

namespace {

std::array<double, 3> numbers(const Param& param, const std::string& text) {
  std::vector<double> parsed;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) parsed.push_back(std::stod(part));
  if (int(parsed.size()) != param.dimension())
    throw std::runtime_error(param.name +
                             (param.dimension() == 1 ? " takes one number" : " takes three numbers a,b,c"));
  std::array<double, 3> value{0, 0, 0};
  for (size_t i = 0; i < parsed.size(); ++i) value[i] = parsed[i];
  return value;
}

}  // namespace

void setParam(Param& param, const std::string& value) {
  if (param.type == kOfxParamTypeString) {
    param.text = value;
  } else if (param.holdsDoubles()) {
    param.doubles = numbers(param, value);
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

void setKey(Param& param, double time, const std::string& value) {
  // kOfxParamPropAnimates defaults to 1 for the numeric kinds.
  if (!param.holdsDoubles() || param.props.getInt(kOfxParamPropAnimates, 0, 1) == 0)
    throw std::runtime_error(param.name +
                             " does not animate: the test host keys animating double parameters");
  param.keys[time] = numbers(param, value);
}

void initialise(Param& param) {
  if (param.type == kOfxParamTypeString) {
    param.text = param.props.getString(kOfxParamPropDefault);
  } else if (param.holdsDoubles()) {
    for (int i = 0; i < param.dimension(); ++i)
      param.doubles[size_t(i)] = param.props.getDouble(kOfxParamPropDefault, i);
  } else {
    param.integer = param.props.getInt(kOfxParamPropDefault);
  }
}

namespace {

Param* paramOf(OfxParamHandle handle) { return reinterpret_cast<Param*>(handle); }
ParamSet* paramSetOf(OfxParamSetHandle handle) { return reinterpret_cast<ParamSet*>(handle); }

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

OfxStatus readValue(const Param* p, double time, va_list values) {
  if (p == nullptr) return kOfxStatErrBadHandle;
  if (p->holdsDoubles()) {
    const std::array<double, 3> value = p->doublesAt(time);
    for (int i = 0; i < p->dimension(); ++i) *va_arg(values, double*) = value[size_t(i)];
  } else if (isInteger(p->type)) {
    *va_arg(values, int*) = p->integer;
  } else if (p->type == kOfxParamTypeString) {
    *va_arg(values, char**) = const_cast<char*>(p->text.c_str());
  } else {
    return kOfxStatErrUnsupported;
  }
  return kOfxStatOK;
}

OfxStatus writeValue(Param* p, const double* time, va_list values) {
  if (p == nullptr) return kOfxStatErrBadHandle;
  if (p->holdsDoubles()) {
    std::array<double, 3> value{0, 0, 0};
    for (int i = 0; i < p->dimension(); ++i) value[size_t(i)] = va_arg(values, double);
    // At a time, a parameter that animates gets a key; without one (or one that does not) its value.
    if (time != nullptr && p->props.getInt(kOfxParamPropAnimates, 0, 1) != 0)
      p->keys[*time] = value;
    else
      p->doubles = value;
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
  if (const char* action = timedActionOnThisThread(); action != nullptr && param != nullptr)
    state().journal.add("{\"event\":\"violation\",\"what\":" +
                        jsonString("paramGetValue(" + paramOf(param)->name + ") during " + action +
                                   ": an action at a time reads parameters with paramGetValueAtTime") +
                        "}");
  va_list values;
  va_start(values, param);
  OfxStatus status = readValue(paramOf(param), state().currentTime, values);
  va_end(values);
  return status;
}

OfxStatus paramGetValueAtTime(OfxParamHandle param, OfxTime time, ...) {
  va_list values;
  va_start(values, time);
  OfxStatus status = readValue(paramOf(param), time, values);
  va_end(values);
  return status;
}

OfxStatus paramGetDerivative(OfxParamHandle, OfxTime, ...) { return kOfxStatErrUnsupported; }
OfxStatus paramGetIntegral(OfxParamHandle, OfxTime, OfxTime, ...) { return kOfxStatErrUnsupported; }

OfxStatus paramSetValue(OfxParamHandle param, ...) {
  va_list values;
  va_start(values, param);
  OfxStatus status = writeValue(paramOf(param), nullptr, values);
  va_end(values);
  return status;
}

OfxStatus paramSetValueAtTime(OfxParamHandle param, OfxTime time, ...) {
  va_list values;
  va_start(values, time);
  OfxStatus status = writeValue(paramOf(param), &time, values);
  va_end(values);
  return status;
}

OfxStatus paramGetNumKeys(OfxParamHandle param, unsigned int* keys) {
  if (param == nullptr) return kOfxStatErrBadHandle;
  *keys = unsigned(paramOf(param)->keys.size());
  return kOfxStatOK;
}

OfxStatus paramGetKeyTime(OfxParamHandle param, unsigned int nth, OfxTime* time) {
  if (param == nullptr) return kOfxStatErrBadHandle;
  const auto& keys = paramOf(param)->keys;
  if (nth >= keys.size()) return kOfxStatErrBadIndex;
  *time = std::next(keys.begin(), long(nth))->first;
  return kOfxStatOK;
}

OfxStatus paramGetKeyIndex(OfxParamHandle param, OfxTime time, int direction, int* index) {
  if (param == nullptr) return kOfxStatErrBadHandle;
  const auto& keys = paramOf(param)->keys;
  *index = -1;
  int i = 0;
  for (auto it = keys.begin(); it != keys.end(); ++it, ++i) {
    const bool found = direction == 0  ? std::fabs(it->first - time) < 1e-6
                       : direction < 0 ? it->first < time
                                       : it->first > time;
    if (found) {
      *index = i;
      if (direction >= 0) break;  // the first after, or the one at; before: the last one found
    }
  }
  return *index >= 0 ? kOfxStatOK : kOfxStatFailed;
}

OfxStatus paramDeleteKey(OfxParamHandle param, OfxTime time) {
  if (param == nullptr) return kOfxStatErrBadHandle;
  return paramOf(param)->keys.erase(time) ? kOfxStatOK : kOfxStatErrBadIndex;
}

OfxStatus paramDeleteAllKeys(OfxParamHandle param) {
  if (param == nullptr) return kOfxStatErrBadHandle;
  paramOf(param)->keys.clear();
  return kOfxStatOK;
}

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

}  // namespace

const OfxParameterSuiteV1* parameterSuite() { return &kParameterSuite; }

}  // namespace testhost
