// What one effect instance keeps between actions: its connection and its message state.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fusion_client.hpp"
#include "ofx/core.h"

namespace movingcolor {

class Instance {
 public:
  // The connection to `address`, made anew when the address changes; shared by concurrent renders.
  std::shared_ptr<FusionClient> client(const std::string& address);

  // Shows `text` through the host's message suite: a persistent message where the host has one
  // (replaced each time), else a message box only when `kind` changes (the text without what
  // differs frame by frame; the text itself when empty), so scrubbing past a failing server is
  // not a stream of dialogs. Nothing once the instance is destroyed.
  void report(OfxImageEffectHandle effect, const char* type, const std::string& text,
              const std::string& kind = "");
  // Clears what `report` showed.
  void clear(OfxImageEffectHandle effect);

  // A viewer's frame shown un-fused (the Source, with `text` as report shows it): remembered by its
  // `time` and `settings` (what else the frame was rendered with) until that frame fuses. The host
  // caches the frame it was given, and may show it, or bake it into a delivery that reuses cached
  // renders, long after the server answers again.
  void shownUnfused(OfxImageEffectHandle effect, double time, const std::string& settings,
                    const std::string& text, const std::string& kind);
  // A frame fused (`time`, `settings` as for shownUnfused), with what the server warned of fusing
  // it: the message names the frames still shown un-fused where there are any (their warning stays
  // up until every one was rendered again), else the server's warnings, else none.
  void fused(OfxImageEffectHandle effect, double time, const std::string& settings,
             const std::vector<std::string>& warnings);
  // A parameter or clip the user changed: a host renders every frame again, so no frame shown
  // un-fused stays in its cache (`forget`); clears the message where none is left.
  void edited(OfxImageEffectHandle effect, bool forget);

  // Whether the host destroyed the instance: a render still under way stops its call and leaves
  // the effect handle alone.
  bool destroyed() const { return destroyed_.load(); }

 private:
  friend OfxStatus destroyInstanceData(OfxImageEffectHandle effect);

  std::mutex clientLock_;
  std::shared_ptr<FusionClient> client_;
  // The persistent message wanted on the host (empty text: none) and its version, sent by one
  // thread at a time (``deliver``).
  struct Wanted {
    std::string type;
    std::string text;
  };
  void deliver(OfxImageEffectHandle effect, std::unique_lock<std::mutex>& guard);
  // report and clear, `guard` (of messageLock_) held.
  void show(OfxImageEffectHandle effect, const char* type, const std::string& text, const std::string& key,
            std::unique_lock<std::mutex>& guard);
  void hide(OfxImageEffectHandle effect, std::unique_lock<std::mutex>& guard);
  // The message for the frames shown un-fused that the host may still hold.
  std::string unfusedText() const;

  // Held to decide what to show, never while the host is called.
  std::mutex messageLock_;
  std::condition_variable settled_;
  std::string shown_;
  Wanted wanted_;
  uint64_t wantedVersion_ = 0;
  uint64_t deliveredVersion_ = 0;
  bool delivering_ = false;
  bool boxShowing_ = false;
  // The thread telling the host (delivering, or showing a box), if any.
  std::thread::id deliverer_;
  // The viewer's frames shown un-fused and not fused since: time, and the settings they had.
  std::set<std::pair<double, std::string>> unfused_;
  static constexpr int kDeliveryRounds = 4;
  std::atomic<bool> destroyed_{false};
};

// A new instance stored on `effect` (OfxPropInstanceData), at createInstance.
void createInstanceData(OfxImageEffectHandle effect);
// At destroyInstance: `effect`'s instance marked destroyed and taken off it; renders still under
// way keep it alive until they return (hosts may destroy an instance while it renders).
OfxStatus destroyInstanceData(OfxImageEffectHandle effect);
// The instance of `effect`, shared with the caller for as long as it holds it; nullptr before
// createInstance and after destroyInstance.
std::shared_ptr<Instance> instanceOf(OfxImageEffectHandle effect);

}  // namespace movingcolor
