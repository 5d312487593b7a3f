#include "effect.hpp"
#include "host_suites.hpp"
#include "ofx/names.h"
#include "settings.hpp"

namespace movingcolor {

OfxStatus describe(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->getPropertySet(effect, &props);
  setString(props, kOfxPropLabel, "MovingColor");
  setString(props, kOfxImageEffectPluginPropGrouping, "MovingColor");
  setString(props, kOfxPropPluginDescription,
            "Removes the flickering seam of a grade seen through a coarse matte: the edge band's colours are "
            "decided from the plate, the grade and neighbouring frames by a MovingColor server.");
  setString(props, kOfxImageEffectPropSupportedContexts, kOfxImageEffectContextFilter, 0);
  setString(props, kOfxImageEffectPropSupportedContexts, kOfxImageEffectContextGeneral, 1);
  setString(props, kOfxImageEffectPropSupportedPixelDepths, kOfxBitDepthFloat, 0);
  // Each render reads its neighbours, and needs whole frames at one size: a host that honours it gives
  // every input at the same size (a half-res roto scaled to the plate, a roto's bounding box padded);
  // a render handed a Matte or Graded image of another size anyway refuses it (render.cpp).
  setInt(props, kOfxImageEffectPropTemporalClipAccess, 1);
  setInt(props, kOfxImageEffectPropSupportsTiles, 0);
  setInt(props, kOfxImageEffectPropSupportsMultiResolution, 0);
  setInt(props, kOfxImageEffectPluginPropHostFrameThreading, 0);
  // Interlaced footage is fused as whole frames: rendered a field at a time, each field would be
  // taken for a frame half a frame later, with its band measured over twice its rows.
  setInt(props, kOfxImageEffectPluginPropFieldRenderTwiceAlways, 0);
  setString(props, kOfxImageEffectPluginRenderThreadSafety, kOfxImageEffectRenderFullySafe);
  return kOfxStatOK;
}

namespace {

void defineClip(OfxImageEffectHandle effect, const char* name, bool optional, bool mask, bool alpha) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->clipDefine(effect, name, &props);
  // A mask clip lists Alpha first: hosts that pick one component for a clip take the first listed.
  int index = 0;
  if (alpha) setString(props, kOfxImageEffectPropSupportedComponents, kOfxImageComponentAlpha, index++);
  setString(props, kOfxImageEffectPropSupportedComponents, kOfxImageComponentRGBA, index);
  setInt(props, kOfxImageEffectPropTemporalClipAccess, std::string(name) != kOutputClip ? 1 : 0);
  setInt(props, kOfxImageEffectPropSupportsTiles, 0);
  if (optional) setInt(props, kOfxImageClipPropOptional, 1);
  if (mask) setInt(props, kOfxImageClipPropIsMask, 1);
}

}  // namespace

OfxStatus describeInContext(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  const std::string context = propString(inArgs, kOfxImageEffectPropContext);
  if (context != kOfxImageEffectContextFilter && context != kOfxImageEffectContextGeneral)
    return kOfxStatErrUnsupported;
  defineClip(effect, kOutputClip, false, false, false);
  defineClip(effect, kSourceClip, false, false, false);
  // Without a Matte, the Source's alpha is the matte; with a Graded clip, it replaces the CDL.
  defineClip(effect, kMatteClip, true, true, true);
  defineClip(effect, kGradedClip, true, false, false);
  OfxParamSetHandle params = nullptr;
  suites.effects->getParamSet(effect, &params);
  defineParameters(params);
  return kOfxStatOK;
}

}  // namespace movingcolor
