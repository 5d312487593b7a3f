// The actions the test host calls on an instance besides describing and rendering it, with the
// arguments a host gives and its defaults filled in, each printing what the plugin answered.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "ofx/core.h"
#include "suites.hpp"

namespace testhost {

// Prints one JSON line; render threads print too, one line at a time.
void emit(const std::string& json);

// Calls `action` on the plugin (marked on this thread for the suites' rules), then prints what the
// suites recorded meanwhile.
OfxStatus call(OfxPlugin* plugin, const char* action, void* handle, PropertySet* in = nullptr,
               PropertySet* out = nullptr);

// Throws when `status` says the action failed (neither OK nor "use the default").
void require(OfxStatus status, const char* action);

// GetClipPreferences, as a host calls it once the clips are connected: sets the components each
// connected clip's images are given in. In contexts other than general only optional clips may be
// remapped; the test host maps RGBA to Alpha (the alpha channel) and nothing else.
void clipPreferences(OfxPlugin* plugin, Effect& effect, const std::string& context);

// What getFramesNeeded declares for a render at `frame`: the frames each input clip may be fetched at.
NeededFrames framesNeeded(OfxPlugin* plugin, Effect& effect, long long frame);

// The Output's region at `frame` (canonical coordinates); the default is the Source's region.
OfxRectD regionOfDefinition(OfxPlugin* plugin, Effect& effect, long long frame);

// The region of each input clip a render of `region` (canonical) reads; the default is `region`.
std::map<std::string, OfxRectD> regionsOfInterest(OfxPlugin* plugin, Effect& effect, long long frame,
                                                  const OfxRectD& region);

// The clip and time the host shows instead of rendering `frame` over `window` (pixels); an empty
// clip name when the frame is to be rendered.
std::pair<std::string, double> identity(OfxPlugin* plugin, Effect& effect, long long frame,
                                        const OfxRectI& window);

// BeginSequenceRender or EndSequenceRender (`action`) around renders of frames first..last.
void sequenceRender(OfxPlugin* plugin, Effect& effect, const char* action, long long first, long long last,
                    bool sequential);

}  // namespace testhost
