// The plugin's two exported entry points and the action dispatch. No C++
// exception may cross into the host: each action is wrapped.
#include <cstdio>
#include <cstring>
#include <exception>

#include "effect.hpp"
#include "host_suites.hpp"
#include "ofx/names.h"

namespace movingcolor {
namespace {

OfxHost* gHost = nullptr;

void setHost(OfxHost* host) { gHost = host; }

OfxStatus dispatch(const char* action, const void* handle, OfxPropertySetHandle inArgs,
                   OfxPropertySetHandle outArgs) {
  if (action == nullptr) return kOfxStatFailed;
  auto effect = static_cast<OfxImageEffectHandle>(const_cast<void*>(handle));
  if (std::strcmp(action, kOfxActionLoad) == 0)
    return fetchSuites(gHost) ? kOfxStatOK : kOfxStatErrMissingHostFeature;
  if (std::strcmp(action, kOfxActionUnload) == 0) return kOfxStatOK;
  if (std::strcmp(action, kOfxActionDescribe) == 0) return describe(effect);
  if (std::strcmp(action, kOfxImageEffectActionDescribeInContext) == 0)
    return describeInContext(effect, inArgs);
  if (std::strcmp(action, kOfxActionCreateInstance) == 0) return createInstance(effect);
  if (std::strcmp(action, kOfxActionDestroyInstance) == 0) return destroyInstance(effect);
  if (std::strcmp(action, kOfxActionInstanceChanged) == 0) return instanceChanged(effect, inArgs);
  if (std::strcmp(action, kOfxImageEffectActionGetFramesNeeded) == 0)
    return getFramesNeeded(effect, inArgs, outArgs);
  if (std::strcmp(action, kOfxImageEffectActionGetClipPreferences) == 0)
    return getClipPreferences(effect, outArgs);
  if (std::strcmp(action, kOfxImageEffectActionIsIdentity) == 0) return isIdentity(effect, inArgs, outArgs);
  if (std::strcmp(action, kOfxImageEffectActionRender) == 0) return render(effect, inArgs);
  // Everything else (regions of definition and interest, begin and end sequence render, ...) takes
  // the host's default: see host_queries.cpp.
  return kOfxStatReplyDefault;
}

OfxStatus mainEntry(const char* action, const void* handle, OfxPropertySetHandle inArgs,
                    OfxPropertySetHandle outArgs) {
  try {
    return dispatch(action, handle, inArgs, outArgs);
  } catch (const std::bad_alloc&) {
    return kOfxStatErrMemory;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "movingcolor-ofx: %s failed: %s\n", action, error.what());
    return kOfxStatFailed;
  } catch (...) {
    return kOfxStatFailed;
  }
}

OfxPlugin gPlugin = {kOfxImageEffectPluginApi,
                     kOfxImageEffectPluginApiVersion,
                     kPluginIdentifier,
                     kVersionMajor,
                     kVersionMinor,
                     setHost,
                     mainEntry};

}  // namespace
}  // namespace movingcolor

extern "C" {

__attribute__((visibility("default"))) int OfxGetNumberOfPlugins(void) { return 1; }

__attribute__((visibility("default"))) OfxPlugin* OfxGetPlugin(int nth) {
  return nth == 0 ? &movingcolor::gPlugin : nullptr;
}
}
