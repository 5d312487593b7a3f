#include "clips.hpp"

#include "effect.hpp"
#include "host_suites.hpp"
#include "ofx/names.h"

namespace movingcolor {

OfxImageClipHandle clipHandle(OfxImageEffectHandle effect, const char* name, bool* connected) {
  OfxImageClipHandle handle = nullptr;
  OfxPropertySetHandle props = nullptr;
  if (suites.effects->clipGetHandle(effect, name, &handle, &props) != kOfxStatOK) return nullptr;
  if (connected != nullptr) *connected = propInt(props, kOfxImageClipPropConnected) != 0;
  return handle;
}

Clips clipsOf(OfxImageEffectHandle effect) {
  Clips clips;
  clips.output = clipHandle(effect, kOutputClip);
  clips.source = clipHandle(effect, kSourceClip);
  clips.matte = clipHandle(effect, kMatteClip, &clips.matteConnected);
  clips.graded = clipHandle(effect, kGradedClip, &clips.gradedConnected);
  return clips;
}

}  // namespace movingcolor
