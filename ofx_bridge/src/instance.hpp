// What one effect instance keeps between actions: its connection and its message state.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "fusion_client.hpp"
#include "ofx/core.h"

namespace movingcolor {

class Instance {
 public:
  // The connection to `address`, made anew when the address changes; shared by concurrent renders.
  std::shared_ptr<FusionClient> client(const std::string& address);

  // Shows `text` through the host's message suite: a persistent message where the host has one
  // (replaced each time), else a message box only when the text changes, so scrubbing is not a
  // stream of dialogs.
  void report(OfxImageEffectHandle effect, const char* type, const std::string& text);
  // Clears what `report` showed, after a frame fused.
  void clear(OfxImageEffectHandle effect);

 private:
  // Two locks: a message box may wait for the user while it is shown, and the other render
  // threads must still get the connection meanwhile.
  std::mutex clientLock_;
  std::shared_ptr<FusionClient> client_;
  std::mutex messageLock_;
  std::string shown_;
};

// The instance stored on `effect` (OfxPropInstanceData); nullptr before createInstance.
Instance* instanceOf(OfxImageEffectHandle effect);

}  // namespace movingcolor
