#include "host_suites.hpp"

namespace movingcolor {

HostSuites suites;

bool fetchSuites(OfxHost* host) {
  if (host == nullptr || host->fetchSuite == nullptr) return false;
  auto fetch = [host](const char* name, int version) { return host->fetchSuite(host->host, name, version); };
  suites.properties = static_cast<const OfxPropertySuiteV1*>(fetch(kOfxPropertySuite, 1));
  suites.effects = static_cast<const OfxImageEffectSuiteV1*>(fetch(kOfxImageEffectSuite, 1));
  suites.parameters = static_cast<const OfxParameterSuiteV1*>(fetch(kOfxParameterSuite, 1));
  suites.memory = static_cast<const OfxMemorySuiteV1*>(fetch(kOfxMemorySuite, 1));
  suites.threads = static_cast<const OfxMultiThreadSuiteV1*>(fetch(kOfxMultiThreadSuite, 1));
  suites.messages = static_cast<const OfxMessageSuiteV2*>(fetch(kOfxMessageSuite, 2));
  suites.messageVersion = suites.messages != nullptr ? 2 : 0;
  if (suites.messages == nullptr) {
    // V1 is V2's first member, so the same pointer type serves; the V2 members are never touched.
    suites.messages = static_cast<const OfxMessageSuiteV2*>(fetch(kOfxMessageSuite, 1));
    suites.messageVersion = suites.messages != nullptr ? 1 : 0;
  }
  return suites.properties != nullptr && suites.effects != nullptr && suites.parameters != nullptr;
}

std::string propString(OfxPropertySetHandle set, const char* name, int index, const std::string& fallback) {
  char* value = nullptr;
  if (suites.properties->propGetString(set, name, index, &value) != kOfxStatOK || value == nullptr)
    return fallback;
  return value;
}

int propInt(OfxPropertySetHandle set, const char* name, int index, int fallback) {
  int value = fallback;
  return suites.properties->propGetInt(set, name, index, &value) == kOfxStatOK ? value : fallback;
}

double propDouble(OfxPropertySetHandle set, const char* name, int index, double fallback) {
  double value = fallback;
  return suites.properties->propGetDouble(set, name, index, &value) == kOfxStatOK ? value : fallback;
}

void* propPointer(OfxPropertySetHandle set, const char* name, int index) {
  void* value = nullptr;
  return suites.properties->propGetPointer(set, name, index, &value) == kOfxStatOK ? value : nullptr;
}

int propDimension(OfxPropertySetHandle set, const char* name) {
  int count = 0;
  return suites.properties->propGetDimension(set, name, &count) == kOfxStatOK ? count : 0;
}

void setString(OfxPropertySetHandle set, const char* name, const std::string& value, int index) {
  suites.properties->propSetString(set, name, index, value.c_str());
}

void setInt(OfxPropertySetHandle set, const char* name, int value, int index) {
  suites.properties->propSetInt(set, name, index, value);
}

void setDouble(OfxPropertySetHandle set, const char* name, double value, int index) {
  suites.properties->propSetDouble(set, name, index, value);
}

void setPointer(OfxPropertySetHandle set, const char* name, void* value, int index) {
  suites.properties->propSetPointer(set, name, index, value);
}

}  // namespace movingcolor
