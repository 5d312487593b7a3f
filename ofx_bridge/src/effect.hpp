// The actions of the MovingColor effect, each called from the plugin's main entry.
#pragma once

#include "ofx/core.h"

namespace movingcolor {

constexpr const char* kPluginIdentifier = "com.movingcolor.MovingColor";
constexpr unsigned int kVersionMajor = 1;
constexpr unsigned int kVersionMinor = 1;

constexpr const char* kSourceClip = "Source";
constexpr const char* kMatteClip = "Matte";
constexpr const char* kGradedClip = "Graded";
constexpr const char* kOutputClip = "Output";

OfxStatus describe(OfxImageEffectHandle effect);
OfxStatus describeInContext(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs);
OfxStatus createInstance(OfxImageEffectHandle effect);
OfxStatus destroyInstance(OfxImageEffectHandle effect);
OfxStatus instanceChanged(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs);
OfxStatus getFramesNeeded(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs,
                          OfxPropertySetHandle outArgs);
OfxStatus getClipPreferences(OfxImageEffectHandle effect, OfxPropertySetHandle outArgs);
OfxStatus isIdentity(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs);
OfxStatus render(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs);

}  // namespace movingcolor
