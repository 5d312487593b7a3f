// The host's suites as the plugin fetched them at load, and typed property access.
#pragma once

#include <string>

#include "ofx/core.h"
#include "ofx/suites.h"

namespace movingcolor {

struct HostSuites {
  const OfxPropertySuiteV1* properties = nullptr;
  const OfxImageEffectSuiteV1* effects = nullptr;
  const OfxParameterSuiteV1* parameters = nullptr;
  // Optional suites: the plugin works without them (single-threaded copies,
  // heap memory, messages only where the host offers them).
  const OfxMemorySuiteV1* memory = nullptr;
  const OfxMultiThreadSuiteV1* threads = nullptr;
  const OfxMessageSuiteV2* messages = nullptr;
  int messageVersion = 0;
};

// Filled by OfxActionLoad; read-only afterwards, so every render thread may read it.
extern HostSuites suites;

// Fetches the suites from `host`; false when a required one is missing.
bool fetchSuites(OfxHost* host);

std::string propString(OfxPropertySetHandle set, const char* name, int index = 0,
                       const std::string& fallback = "");
int propInt(OfxPropertySetHandle set, const char* name, int index = 0, int fallback = 0);
double propDouble(OfxPropertySetHandle set, const char* name, int index = 0, double fallback = 0.0);
void* propPointer(OfxPropertySetHandle set, const char* name, int index = 0);
int propDimension(OfxPropertySetHandle set, const char* name);

void setString(OfxPropertySetHandle set, const char* name, const std::string& value, int index = 0);
void setInt(OfxPropertySetHandle set, const char* name, int value, int index = 0);
void setDouble(OfxPropertySetHandle set, const char* name, double value, int index = 0);
void setPointer(OfxPropertySetHandle set, const char* name, void* value, int index = 0);

}  // namespace movingcolor
