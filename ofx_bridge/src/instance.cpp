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
    if (destroyed()) return;
    const bool shownAlready = key == shown_;
    shown_ = key;
    if (suites.messageVersion < 2 && shownAlready) return;
  }
  // Outside the lock: a version 1 message box waits for the user.
  if (suites.messageVersion >= 2) {
    messages->setPersistentMessage(effect, type, "MovingColor", "%s", text.c_str());
  } else {
    messages->message(effect, type, "MovingColor", "%s", text.c_str());
  }
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

// OfxPropInstanceData holds a heap-allocated shared pointer; this lock covers reading it and
// replacing it, so a render never copies a pointer that destroyInstance is freeing.
std::mutex instanceDataLock;

std::shared_ptr<Instance>* heldBy(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->getPropertySet(effect, &props);
  return static_cast<std::shared_ptr<Instance>*>(propPointer(props, kOfxPropInstanceData));
}

void setHeld(OfxImageEffectHandle effect, std::shared_ptr<Instance>* held) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->getPropertySet(effect, &props);
  setPointer(props, kOfxPropInstanceData, held);
}

}  // namespace

void createInstanceData(OfxImageEffectHandle effect) {
  std::lock_guard<std::mutex> guard(instanceDataLock);
  setHeld(effect, new std::shared_ptr<Instance>(std::make_shared<Instance>()));
}

OfxStatus destroyInstanceData(OfxImageEffectHandle effect) {
  std::unique_ptr<std::shared_ptr<Instance>> held;
  {
    std::lock_guard<std::mutex> guard(instanceDataLock);
    held.reset(heldBy(effect));
    setHeld(effect, nullptr);
  }
  if (held && *held) {
    Instance& instance = **held;
    std::lock_guard<std::mutex> guard(instance.messageLock_);
    instance.destroyed_ = true;
  }
  return kOfxStatOK;
}

std::shared_ptr<Instance> instanceOf(OfxImageEffectHandle effect) {
  std::lock_guard<std::mutex> guard(instanceDataLock);
  std::shared_ptr<Instance>* held = heldBy(effect);
  return held != nullptr ? *held : nullptr;
}

}  // namespace movingcolor
