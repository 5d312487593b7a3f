// The effect's clips as one render or host query sees them: handles, and which optional ones are
// connected.
#pragma once

#include "ofx/core.h"

namespace movingcolor {

struct Clips {
  OfxImageClipHandle output = nullptr, source = nullptr, matte = nullptr, graded = nullptr;
  bool matteConnected = false, gradedConnected = false;
};

// The handle of the clip `name` on an instance (nullptr when it has none); `connected`, when given,
// says whether the host connected it.
OfxImageClipHandle clipHandle(OfxImageEffectHandle effect, const char* name, bool* connected = nullptr);

Clips clipsOf(OfxImageEffectHandle effect);

}  // namespace movingcolor
