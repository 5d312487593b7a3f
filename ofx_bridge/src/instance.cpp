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
  if (suites.messageVersion >= 2) {
    // Set under the host-call lock: the host gets sets and clears in the order they were decided
    // (a clear decided after this set cannot reach it first and leave the message up for good).
    std::lock_guard<std::timed_mutex> host(hostLock_);
    {
      std::lock_guard<std::mutex> guard(messageLock_);
      if (destroyed()) return;
      shown_ = key;
    }
    messages->setPersistentMessage(effect, type, "MovingColor", "%s", text.c_str());
    return;
  }
  // A version 1 message box waits for the user: one at a time, shown outside every lock so the
  // other render threads go on meanwhile, and a message it kept from showing is not taken as shown.
  {
    std::lock_guard<std::mutex> guard(messageLock_);
    if (destroyed() || key == shown_ || boxShowing_) return;
    shown_ = key;
    boxShowing_ = true;
  }
  messages->message(effect, type, "MovingColor", "%s", text.c_str());
  std::lock_guard<std::mutex> guard(messageLock_);
  boxShowing_ = false;
}

void Instance::clear(OfxImageEffectHandle effect) {
  std::lock_guard<std::timed_mutex> host(hostLock_);
  {
    std::lock_guard<std::mutex> guard(messageLock_);
    if (shown_.empty() || destroyed()) return;
    shown_.clear();
  }
  if (suites.messages != nullptr && suites.messageVersion >= 2)
    suites.messages->clearPersistentMessage(effect);
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
    // A message being set or cleared finishes first, so none reaches the host after this returns;
    // the wait is bounded, as a host's message call may itself wait on the thread destroying.
    const bool held = instance->hostLock_.try_lock_for(std::chrono::seconds(2));
    {
      std::lock_guard<std::mutex> guard(instance->messageLock_);
      instance->destroyed_ = true;
    }
    if (held) instance->hostLock_.unlock();
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
