#include "instance.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "host_suites.hpp"
#include "ofx/names.h"

namespace movingcolor {

std::shared_ptr<FusionClient> Instance::client(const std::string& address) {
  std::lock_guard<std::mutex> guard(clientLock_);
  if (!client_ || client_->address() != address) client_ = std::make_shared<FusionClient>(address);
  return client_;
}

void Instance::report(OfxImageEffectHandle effect, const char* type, const std::string& text,
                      const std::string& kind) {
  std::unique_lock<std::mutex> guard(messageLock_);
  show(effect, type, text, kind.empty() ? text : kind, guard);
}

void Instance::clear(OfxImageEffectHandle effect) {
  std::unique_lock<std::mutex> guard(messageLock_);
  hide(effect, guard);
}

void Instance::shownUnfused(OfxImageEffectHandle effect, double time, const std::string& settings,
                            const std::string& text, const std::string& kind) {
  std::unique_lock<std::mutex> guard(messageLock_);
  if (destroyed()) return;
  unfused_.insert({time, settings});
  show(effect, kOfxMessageWarning, text, kind, guard);
}

void Instance::fused(OfxImageEffectHandle effect, double time, const std::string& settings,
                     const std::vector<std::string>& warnings) {
  std::unique_lock<std::mutex> guard(messageLock_);
  if (destroyed()) return;
  unfused_.erase({time, settings});
  // Decided and shown under one lock: a frame falling back on another thread meanwhile is either
  // counted here or shows its own warning after this.
  if (!unfused_.empty()) {
    show(effect, kOfxMessageWarning, unfusedText(), "un-fused frames cached", guard);
    return;
  }
  if (warnings.empty()) {
    hide(effect, guard);
    return;
  }
  // The first few: a persistent message is a line or two in a host's node or viewer.
  constexpr size_t kShownWarnings = 3;
  std::string text = "MovingColor:";
  for (size_t i = 0; i < std::min(warnings.size(), kShownWarnings); ++i)
    text += (i == 0 ? " " : "; ") + warnings[i];
  if (warnings.size() > kShownWarnings)
    text += " (and " + std::to_string(warnings.size() - kShownWarnings) + " more: see the server's log)";
  // One box a kind for a version 1 host, whichever frame warned.
  show(effect, kOfxMessageWarning, text, "server warnings", guard);
}

void Instance::edited(OfxImageEffectHandle effect, bool forget) {
  std::unique_lock<std::mutex> guard(messageLock_);
  if (forget) unfused_.clear();
  if (unfused_.empty()) hide(effect, guard);
}

std::string Instance::unfusedText() const {
  std::set<double> times;
  for (const auto& entry : unfused_) times.insert(entry.first);
  constexpr size_t kNamedFrames = 5;
  std::string named;
  size_t count = 0;
  for (const double time : times) {
    if (count++ == kNamedFrames) break;
    char number[32];
    std::snprintf(number, sizeof number, "%.10g", time);
    named += (named.empty() ? "" : ", ") + std::string(number);
  }
  if (times.size() > kNamedFrames) named += " and " + std::to_string(times.size() - kNamedFrames) + " more";
  const bool one = times.size() == 1;
  const std::string them = one ? "it" : "them";
  return std::string("MovingColor: ") + (one ? "frame " : "frames ") + named + (one ? " was" : " were") +
         " shown un-fused (the Source) when " + std::string(one ? "it" : "they") +
         " could not be fused, and the host keeps " +
         them + " in its cache: render " + them +
         " again (touch a parameter, or clear the host's render cache) to see " + them + " fused.";
}

void Instance::show(OfxImageEffectHandle effect, const char* type, const std::string& text,
                    const std::string& key, std::unique_lock<std::mutex>& guard) {
  const OfxMessageSuiteV2* messages = suites.messages;
  if (messages == nullptr || destroyed()) return;
  if (suites.messageVersion >= 2) {
    wanted_ = Wanted{type, text};
    shown_ = key;
    deliver(effect, guard);
    return;
  }
  // A version 1 message box waits for the user: one at a time, and a message it kept from showing
  // is not taken as shown.
  if (key == shown_ || boxShowing_) return;
  shown_ = key;
  boxShowing_ = true;
  deliverer_ = std::this_thread::get_id();
  guard.unlock();
  messages->message(effect, type, "MovingColor", "%s", text.c_str());
  guard.lock();
  boxShowing_ = false;
  deliverer_ = std::thread::id();
  settled_.notify_all();
}

void Instance::hide(OfxImageEffectHandle effect, std::unique_lock<std::mutex>& guard) {
  if (shown_.empty() || destroyed()) return;
  shown_.clear();
  if (suites.messages == nullptr || suites.messageVersion < 2) return;
  wanted_ = Wanted{};
  deliver(effect, guard);
}

void Instance::deliver(OfxImageEffectHandle effect, std::unique_lock<std::mutex>& guard) {
  ++wantedVersion_;
  // One thread at a time tells the host, and never holds a lock while it does: a host whose
  // message call waits on another thread that reports or clears (a UI thread in instanceChanged),
  // or calls back into the plugin, goes on. The others leave what they want for it to send.
  if (delivering_) return;
  delivering_ = true;
  deliverer_ = std::this_thread::get_id();
  // Reset however this ends (an allocation failing mid-way would otherwise stop every message).
  struct Done {
    Instance& instance;
    ~Done() {
      instance.delivering_ = false;
      instance.deliverer_ = std::thread::id();
      instance.settled_.notify_all();
    }
  } done{*this};
  // A few rounds at most: a render thread is not kept here while others report faster than the
  // host takes them; what is left is sent by the next report or clear.
  for (int round = 0; round < kDeliveryRounds && deliveredVersion_ != wantedVersion_ && !destroyed();
       ++round) {
    const Wanted wanted = wanted_;
    const uint64_t version = wantedVersion_;
    guard.unlock();
    if (wanted.text.empty()) {
      suites.messages->clearPersistentMessage(effect);
    } else {
      suites.messages->setPersistentMessage(effect, wanted.type.c_str(), "MovingColor", "%s",
                                            wanted.text.c_str());
    }
    guard.lock();
    deliveredVersion_ = version;
  }
}

namespace {

// What OfxPropInstanceData points at: made at createInstance and never freed (a few bytes an
// instance), so a render that read the pointer just before destroyInstance still finds it whole.
// Its own lock covers the instance it holds; no lock is held while the host's suites are called.
struct Holder {
  std::mutex lock;
  std::shared_ptr<Instance> instance;
};

Holder* holderOf(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->getPropertySet(effect, &props);
  return static_cast<Holder*>(propPointer(props, kOfxPropInstanceData));
}

void setHolder(OfxImageEffectHandle effect, Holder* holder) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->getPropertySet(effect, &props);
  setPointer(props, kOfxPropInstanceData, holder);
}

}  // namespace

void createInstanceData(OfxImageEffectHandle effect) {
  auto* holder = new Holder();
  holder->instance = std::make_shared<Instance>();
  setHolder(effect, holder);
}

OfxStatus destroyInstanceData(OfxImageEffectHandle effect) {
  Holder* holder = holderOf(effect);
  if (holder == nullptr) return kOfxStatOK;
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard<std::mutex> guard(holder->lock);
    instance.swap(holder->instance);
  }
  if (instance) {
    // No message is sent after this; one the host is being given finishes first. The wait is
    // bounded: a host's message call may itself wait on the thread destroying the instance.
    std::unique_lock<std::mutex> guard(instance->messageLock_);
    instance->destroyed_ = true;
    // Not on the thread that is telling the host (a host destroying from inside its message call):
    // that thread cannot finish while it waits here.
    if (instance->deliverer_ != std::this_thread::get_id())
      instance->settled_.wait_for(guard, std::chrono::seconds(2), [&instance] {
        return !instance->delivering_ && !instance->boxShowing_;
      });
  }
  setHolder(effect, nullptr);
  return kOfxStatOK;
}

std::shared_ptr<Instance> instanceOf(OfxImageEffectHandle effect) {
  Holder* holder = holderOf(effect);
  if (holder == nullptr) return nullptr;
  std::lock_guard<std::mutex> guard(holder->lock);
  return holder->instance;
}

}  // namespace movingcolor
