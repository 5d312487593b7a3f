#include "actions.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <stdexcept>

#include "ofx/names.h"
#include "ofx/suites.h"

namespace testhost {

namespace {

void flushJournal() {
  Journal& journal = state().journal;
  std::lock_guard<std::mutex> guard(journal.lock);
  for (const auto& event : journal.events) emit(event);
  journal.events.clear();
}

void violation(const std::string& what) {
  emit("{\"event\":\"violation\",\"what\":" + jsonString(what) + "}");
}

std::string number(double value) { return jsonNumber(value); }

std::string rectJson(const OfxRectD& r) {
  return "[" + number(r.x1) + "," + number(r.y1) + "," + number(r.x2) + "," + number(r.y2) + "]";
}

void setRect(PropertySet& set, const std::string& name, const OfxRectD& r) {
  const double values[4] = {r.x1, r.y1, r.x2, r.y2};
  for (int i = 0; i < 4; ++i) set.setDouble(name, values[i], i);
}

OfxRectD getRect(const PropertySet& set, const std::string& name) {
  return {set.getDouble(name, 0), set.getDouble(name, 1), set.getDouble(name, 2), set.getDouble(name, 3)};
}

void setRenderScale(PropertySet& set) {
  set.setDouble(kOfxImageEffectPropRenderScale, state().options.renderScale, 0);
  set.setDouble(kOfxImageEffectPropRenderScale, state().options.renderScale, 1);
}

bool lists(const PropertySet& set, const std::string& name, const std::string& value) {
  const Property* p = set.find(name);
  for (size_t i = 0; p && i < p->strings.size(); ++i)
    if (p->strings[i] == value) return true;
  return false;
}

}  // namespace

void emit(const std::string& json) {
  static std::mutex lock;
  std::lock_guard<std::mutex> guard(lock);
  std::cout << json << std::endl;
}

OfxStatus call(OfxPlugin* plugin, const char* action, void* handle, PropertySet* in, PropertySet* out) {
  setActionOnThisThread(action);
  OfxStatus status =
      plugin->mainEntry(action, handle, in ? in->handle() : nullptr, out ? out->handle() : nullptr);
  setActionOnThisThread(nullptr);
  flushJournal();
  return status;
}

void require(OfxStatus status, const char* action) {
  if (status != kOfxStatOK && status != kOfxStatReplyDefault)
    throw std::runtime_error(std::string(action) + " failed with status " + std::to_string(status));
}

void clipPreferences(OfxPlugin* plugin, Effect& effect, const std::string& context) {
  PropertySet prefs;
  for (const auto& [name, clip] : effect.clips) {
    if (clip->props.getInt(kOfxImageClipPropConnected) == 0) continue;
    prefs.setString(kOfxImageClipPropComponentsPrefix + name,
                    clip->props.getString(kOfxImageEffectPropComponents));
    prefs.setString(kOfxImageClipPropDepthPrefix + name, kOfxBitDepthFloat);
    prefs.setDouble("OfxImageClipPropPAR_" + name, 1.0);
  }
  prefs.setString("OfxImageEffectPropPreMultiplication",
                  state().options.premultiplied ? kOfxImagePreMultiplied : kOfxImageUnPreMultiplied);
  prefs.setInt("OfxImageEffectFrameVarying", 0);
  prefs.setInt("OfxImageClipPropContinuousSamples", 0);
  const OfxStatus status = call(plugin, kOfxImageEffectActionGetClipPreferences, &effect, nullptr, &prefs);
  require(status, kOfxImageEffectActionGetClipPreferences);
  std::string json;
  for (const auto& [name, clip] : effect.clips) {
    if (clip->props.getInt(kOfxImageClipPropConnected) == 0) continue;
    const std::string had = clip->props.getString(kOfxImageEffectPropComponents);
    const std::string wanted = prefs.getString(kOfxImageClipPropComponentsPrefix + name);
    if (prefs.getString(kOfxImageClipPropDepthPrefix + name) != kOfxBitDepthFloat)
      violation("clip preferences ask " + name + " for a depth the plugin did not declare");
    if (wanted != had) {
      const bool mandated =
          name == kOfxImageEffectOutputClipName || clip->props.getInt(kOfxImageClipPropOptional) == 0;
      if (!lists(clip->props, kOfxImageEffectPropSupportedComponents, wanted)) {
        violation("clip preferences ask " + name + " for " + wanted +
                  ", which it does not list as supported");
      } else if (mandated && context != kOfxImageEffectContextGeneral) {
        violation("clip preferences remap " + name +
                  ": outside the general context only optional clips may be");
      } else if (had == kOfxImageComponentRGBA && wanted == kOfxImageComponentAlpha) {
        clip->props.setString(kOfxImageEffectPropComponents, wanted);
      } else {
        throw std::runtime_error("the test host maps RGBA clips to Alpha only, not " + had + " to " + wanted);
      }
    }
    json += std::string(json.empty() ? "" : ",") + jsonString(name) + ":" +
            jsonString(clip->props.getString(kOfxImageEffectPropComponents));
  }
  emit("{\"event\":\"clip_preferences\",\"status\":" + std::to_string(status) + ",\"components\":{" + json +
       "}}");
}

NeededFrames framesNeeded(OfxPlugin* plugin, Effect& effect, long long frame) {
  PropertySet neededArgs, needed;
  neededArgs.setDouble(kOfxPropTime, actionTime(frame));
  for (const auto& [name, clip] : effect.clips) {
    if (name == kOfxImageEffectOutputClipName) continue;
    const std::string property = std::string(kOfxImageClipPropFrameRange) + "_" + name;
    needed.setDouble(property, actionTime(frame), 0);  // the host's default: the frame itself
    needed.setDouble(property, actionTime(frame), 1);
  }
  require(call(plugin, kOfxImageEffectActionGetFramesNeeded, &effect, &neededArgs, &needed),
          kOfxImageEffectActionGetFramesNeeded);
  NeededFrames ranges;
  std::string json = "{";
  for (const auto& [name, clip] : effect.clips) {
    if (name == kOfxImageEffectOutputClipName) continue;
    const std::string property = std::string(kOfxImageClipPropFrameRange) + "_" + name;
    const double from = needed.getDouble(property, 0), to = needed.getDouble(property, 1);
    ranges[name] = {from, to};
    json += std::string(json.size() > 1 ? "," : "") + jsonString(name) + ":[" + jsonNumber(from) + "," +
            jsonNumber(to) + "]";
  }
  emit("{\"event\":\"frames_needed\",\"frame\":" + std::to_string(frame) + ",\"ranges\":" + json + "}}");
  return ranges;
}

OfxRectD regionOfDefinition(OfxPlugin* plugin, Effect& effect, long long frame) {
  PropertySet in, out;
  in.setDouble(kOfxPropTime, actionTime(frame));
  setRenderScale(in);
  // The filter and general contexts' default: the Source's region (their only mandated input).
  const auto* effects =
      static_cast<const OfxImageEffectSuiteV1*>(fetchSuite(nullptr, kOfxImageEffectSuite, 1));
  OfxRectD source{0, 0, 0, 0};
  effects->clipGetRegionOfDefinition(reinterpret_cast<OfxImageClipHandle>(effect.clips.at("Source").get()),
                                     double(frame), &source);
  setRect(out, kOfxImageEffectPropRegionOfDefinition, source);
  const OfxStatus status = call(plugin, kOfxImageEffectActionGetRegionOfDefinition, &effect, &in, &out);
  require(status, kOfxImageEffectActionGetRegionOfDefinition);
  const OfxRectD region = status == kOfxStatOK ? getRect(out, kOfxImageEffectPropRegionOfDefinition) : source;
  emit("{\"event\":\"region_of_definition\",\"frame\":" + std::to_string(frame) +
       ",\"status\":" + std::to_string(status) + ",\"region\":" + rectJson(region) + "}");
  return region;
}

std::map<std::string, OfxRectD> regionsOfInterest(OfxPlugin* plugin, Effect& effect, long long frame,
                                                  const OfxRectD& region) {
  PropertySet in, out;
  in.setDouble(kOfxPropTime, actionTime(frame));
  setRenderScale(in);
  setRect(in, kOfxImageEffectPropRegionOfInterest, region);
  for (const auto& [name, clip] : effect.clips)
    if (name != kOfxImageEffectOutputClipName) setRect(out, kOfxImageClipPropRoIPrefix + name, region);
  const OfxStatus status = call(plugin, kOfxImageEffectActionGetRegionsOfInterest, &effect, &in, &out);
  require(status, kOfxImageEffectActionGetRegionsOfInterest);
  std::map<std::string, OfxRectD> regions;
  std::string json;
  for (const auto& [name, clip] : effect.clips) {
    if (name == kOfxImageEffectOutputClipName) continue;
    regions[name] = status == kOfxStatOK ? getRect(out, kOfxImageClipPropRoIPrefix + name) : region;
    json += std::string(json.empty() ? "" : ",") + jsonString(name) + ":" + rectJson(regions[name]);
  }
  emit("{\"event\":\"regions_of_interest\",\"frame\":" + std::to_string(frame) +
       ",\"status\":" + std::to_string(status) + ",\"regions\":{" + json + "}}");
  return regions;
}

std::pair<std::string, double> identity(OfxPlugin* plugin, Effect& effect, long long frame,
                                        const OfxRectI& window) {
  PropertySet in, out;
  in.setDouble(kOfxPropTime, actionTime(frame));
  in.setString(kOfxImageEffectPropFieldToRender, kOfxImageFieldNone);
  const int corners[4] = {window.x1, window.y1, window.x2, window.y2};
  for (int i = 0; i < 4; ++i) in.setInt(kOfxImageEffectPropRenderWindow, corners[i], i);
  setRenderScale(in);
  out.setString(kOfxPropName, "");
  out.setDouble(kOfxPropTime, actionTime(frame));
  const OfxStatus status = call(plugin, kOfxImageEffectActionIsIdentity, &effect, &in, &out);
  require(status, kOfxImageEffectActionIsIdentity);
  if (status != kOfxStatOK) return {"", 0.0};
  const std::string clip = out.getString(kOfxPropName);
  auto named = effect.clips.find(clip);
  if (named == effect.clips.end() || clip == kOfxImageEffectOutputClipName) {
    violation("isIdentity named '" + clip + "', which is not an input clip; the frame is rendered instead");
    return {"", 0.0};
  }
  return {clip, out.getDouble(kOfxPropTime)};
}

void sequenceRender(OfxPlugin* plugin, Effect& effect, const char* action, long long first, long long last,
                    bool sequential) {
  PropertySet in;
  in.setDouble(kOfxImageEffectPropFrameRange, double(first), 0);
  in.setDouble(kOfxImageEffectPropFrameRange, double(last), 1);
  in.setDouble(kOfxImageEffectPropFrameStep, 1.0);
  in.setInt(kOfxPropIsInteractive, 0);
  setRenderScale(in);
  in.setInt(kOfxImageEffectPropSequentialRenderStatus, sequential ? 1 : 0);
  in.setInt(kOfxImageEffectPropInteractiveRenderStatus, 0);
  const OfxStatus status = call(plugin, action, &effect, &in);
  require(status, action);
  emit("{\"event\":\"sequence_render\",\"action\":" + jsonString(action) +
       ",\"first\":" + std::to_string(first) + ",\"last\":" + std::to_string(last) +
       ",\"status\":" + std::to_string(status) + "}");
}

}  // namespace testhost
