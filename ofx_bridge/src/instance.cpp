#include "instance.hpp"

#include "host_suites.hpp"
#include "ofx/names.h"

namespace movingcolor {

std::shared_ptr<FusionClient> Instance::client(const std::string& address) {
  std::lock_guard<std::mutex> guard(clientLock_);
  if (!client_ || client_->address() != address) client_ = std::make_shared<FusionClient>(address);
  return client_;
}

void Instance::report(OfxImageEffectHandle effect, const char* type, const std::string& text) {
  std::lock_guard<std::mutex> guard(messageLock_);
  const OfxMessageSuiteV2* messages = suites.messages;
  if (messages == nullptr) return;
  if (suites.messageVersion >= 2) {
    messages->setPersistentMessage(effect, type, "MovingColor", "%s", text.c_str());
  } else if (text != shown_) {
    messages->message(effect, type, "MovingColor", "%s", text.c_str());
  }
  shown_ = text;
}

void Instance::clear(OfxImageEffectHandle effect) {
  std::lock_guard<std::mutex> guard(messageLock_);
  if (shown_.empty()) return;
  if (suites.messages != nullptr && suites.messageVersion >= 2)
    suites.messages->clearPersistentMessage(effect);
  shown_.clear();
}

Instance* instanceOf(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = nullptr;
  suites.effects->getPropertySet(effect, &props);
  return static_cast<Instance*>(propPointer(props, kOfxPropInstanceData));
}

}  // namespace movingcolor
