#include "instance.hpp"

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
  {
    std::lock_guard<std::mutex> guard(messageLock_);
    if (destroyed() || (suites.messageVersion < 2 && (key == shown_ || boxShowing_))) return;
    shown_ = key;
    boxShowing_ = suites.messageVersion < 2;
  }
  // The host is called outside the lock, which destroyInstance takes: a host whose message call
  // waits on the thread destroying the instance would wait for ever. A version 1 message box waits
  // for the user; one is shown at a time, and a message it kept from showing is not taken as shown.
  if (suites.messageVersion >= 2) {
    messages->setPersistentMessage(effect, type, "MovingColor", "%s", text.c_str());
    return;
  }
  messages->message(effect, type, "MovingColor", "%s", text.c_str());
  std::lock_guard<std::mutex> guard(messageLock_);
  boxShowing_ = false;
}

void Instance::clear(OfxImageEffectHandle effect) {
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
    std::lock_guard<std::mutex> guard(instance->messageLock_);
    instance->destroyed_ = true;
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
