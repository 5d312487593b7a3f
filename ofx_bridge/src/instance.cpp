#include "instance.hpp"

#include <chrono>

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
  const OfxMessageSuiteV2* messages = suites.messages;
  if (messages == nullptr) return;
  const std::string key = kind.empty() ? text : kind;
  std::unique_lock<std::mutex> guard(messageLock_);
  if (destroyed()) return;
  if (suites.messageVersion >= 2) {
    shown_ = key;
    wanted_ = Wanted{type, text};
    deliver(effect, guard);
    return;
  }
  // A version 1 message box waits for the user: one at a time, and a message it kept from showing
  // is not taken as shown.
  if (key == shown_ || boxShowing_) return;
  shown_ = key;
  boxShowing_ = true;
  guard.unlock();
  messages->message(effect, type, "MovingColor", "%s", text.c_str());
  guard.lock();
  boxShowing_ = false;
  settled_.notify_all();
}

void Instance::clear(OfxImageEffectHandle effect) {
  std::unique_lock<std::mutex> guard(messageLock_);
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
  uint64_t sent = 0;
  while (sent != wantedVersion_ && !destroyed()) {
    const Wanted wanted = wanted_;
    sent = wantedVersion_;
    guard.unlock();
    if (wanted.text.empty()) {
      suites.messages->clearPersistentMessage(effect);
    } else {
      suites.messages->setPersistentMessage(effect, wanted.type.c_str(), "MovingColor", "%s",
                                            wanted.text.c_str());
    }
    guard.lock();
  }
  delivering_ = false;
  settled_.notify_all();
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
