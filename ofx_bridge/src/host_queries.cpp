// What a host asks an instance before it renders, besides the frames needed: the clips' preferred
// components and whether a frame is the Source unchanged. The regions of definition and of interest
// and the sequence-render actions are left to the host's defaults, which are what the plugin needs:
// the output covers the Source's region, every input is read over that region, and a sequence
// render holds nothing beyond the instance's connection.
#include <string>

#include "clips.hpp"
#include "effect.hpp"
#include "host_suites.hpp"
#include "instance.hpp"
#include "ofx/names.h"
#include "settings.hpp"

namespace movingcolor {

OfxStatus getClipPreferences(OfxImageEffectHandle effect, OfxPropertySetHandle outArgs) {
  // Only the Matte's alpha is read: asking for Alpha lets the host hand a mask in the channel the user
  // picked, and a quarter of the memory of RGBA. An optional clip may always be remapped.
  bool connected = false;
  if (clipHandle(effect, kMatteClip, &connected) == nullptr || !connected) return kOfxStatReplyDefault;
  setString(outArgs, (std::string(kOfxImageClipPropComponentsPrefix) + kMatteClip).c_str(),
            kOfxImageComponentAlpha);
  return kOfxStatOK;
}

OfxStatus isIdentity(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
  // With a CDL that changes nothing the graded plate is the plate, so any blend of the two through
  // any matte is the plate: the Source passes through, and the server is not asked. A Graded clip
  // may differ from the plate, and settings that would be refused are refused by the render, which
  // says why. A band of 0 is no identity: it is the hard composite, still graded.
  const OfxTime time = propDouble(inArgs, kOfxPropTime);
  if (clipsOf(effect).gradedConnected) return kOfxStatReplyDefault;
  const Settings settings = readSettings(effect, time);
  if (!check(settings).empty() || !isIdentityGrade(settings)) return kOfxStatReplyDefault;
  // A warning left by an earlier render (the server down) no longer applies to what is shown.
  if (const std::shared_ptr<Instance> instance = instanceOf(effect)) instance->clear(effect);
  setString(outArgs, kOfxPropName, kSourceClip);
  setDouble(outArgs, kOfxPropTime, time);
  return kOfxStatOK;
}

}  // namespace movingcolor
