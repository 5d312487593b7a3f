#include "properties.hpp"

namespace testhost {

int Property::dimension() const {
  switch (type) {
    case Type::String:
      return int(strings.size());
    case Type::Int:
      return int(ints.size());
    case Type::Double:
      return int(doubles.size());
    case Type::Pointer:
      return int(pointers.size());
  }
  return 0;
}

namespace {

template <typename T>
void put(std::vector<T>& values, int index, const T& value) {
  if (values.size() <= size_t(index)) values.resize(size_t(index) + 1);
  values[size_t(index)] = value;
}

Property& slot(PropertySet& set, const std::string& name, Property::Type type) {
  Property& property = set.properties[name];
  if (property.type != type) property = Property{type, {}, {}, {}, {}};
  return property;
}

}  // namespace

void PropertySet::setString(const std::string& name, const std::string& value, int index) {
  put(slot(*this, name, Property::Type::String).strings, index, value);
}
void PropertySet::setInt(const std::string& name, int value, int index) {
  put(slot(*this, name, Property::Type::Int).ints, index, value);
}
void PropertySet::setDouble(const std::string& name, double value, int index) {
  put(slot(*this, name, Property::Type::Double).doubles, index, value);
}
void PropertySet::setPointer(const std::string& name, void* value, int index) {
  put(slot(*this, name, Property::Type::Pointer).pointers, index, value);
}

const Property* PropertySet::find(const std::string& name) const {
  auto it = properties.find(name);
  return it == properties.end() ? nullptr : &it->second;
}

std::string PropertySet::getString(const std::string& name, int index, const std::string& fallback) const {
  const Property* p = find(name);
  return p && p->type == Property::Type::String && size_t(index) < p->strings.size()
             ? p->strings[size_t(index)]
             : fallback;
}
int PropertySet::getInt(const std::string& name, int index, int fallback) const {
  const Property* p = find(name);
  return p && p->type == Property::Type::Int && size_t(index) < p->ints.size() ? p->ints[size_t(index)]
                                                                               : fallback;
}
double PropertySet::getDouble(const std::string& name, int index, double fallback) const {
  const Property* p = find(name);
  return p && p->type == Property::Type::Double && size_t(index) < p->doubles.size()
             ? p->doubles[size_t(index)]
             : fallback;
}

std::vector<std::string> PropertySet::names() const {
  std::vector<std::string> result;
  for (const auto& entry : properties) result.push_back(entry.first);
  return result;
}

namespace {

// Getters answer as a strict host does: unknown names, wrong types and indices are errors.
template <typename T>
OfxStatus read(OfxPropertySetHandle handle, const char* name, int index, Property::Type type,
               std::vector<T> Property::*values, T* out) {
  if (handle == nullptr) return kOfxStatErrBadHandle;
  const Property* p = PropertySet::from(handle)->find(name);
  if (p == nullptr) return kOfxStatErrUnknown;
  if (p->type != type) return kOfxStatErrValue;
  const std::vector<T>& v = p->*values;
  if (index < 0 || size_t(index) >= v.size()) return kOfxStatErrBadIndex;
  *out = v[size_t(index)];
  return kOfxStatOK;
}

OfxStatus setPointer(OfxPropertySetHandle h, const char* n, int i, void* v) {
  if (h == nullptr) return kOfxStatErrBadHandle;
  PropertySet::from(h)->setPointer(n, v, i);
  return kOfxStatOK;
}
OfxStatus setString(OfxPropertySetHandle h, const char* n, int i, const char* v) {
  if (h == nullptr) return kOfxStatErrBadHandle;
  PropertySet::from(h)->setString(n, v ? v : "", i);
  return kOfxStatOK;
}
OfxStatus setDouble(OfxPropertySetHandle h, const char* n, int i, double v) {
  if (h == nullptr) return kOfxStatErrBadHandle;
  PropertySet::from(h)->setDouble(n, v, i);
  return kOfxStatOK;
}
OfxStatus setInt(OfxPropertySetHandle h, const char* n, int i, int v) {
  if (h == nullptr) return kOfxStatErrBadHandle;
  PropertySet::from(h)->setInt(n, v, i);
  return kOfxStatOK;
}
OfxStatus setPointerN(OfxPropertySetHandle h, const char* n, int c, void* const* v) {
  for (int i = 0; i < c; ++i) setPointer(h, n, i, v[i]);
  return h ? kOfxStatOK : kOfxStatErrBadHandle;
}
OfxStatus setStringN(OfxPropertySetHandle h, const char* n, int c, const char* const* v) {
  for (int i = 0; i < c; ++i) setString(h, n, i, v[i]);
  return h ? kOfxStatOK : kOfxStatErrBadHandle;
}
OfxStatus setDoubleN(OfxPropertySetHandle h, const char* n, int c, const double* v) {
  for (int i = 0; i < c; ++i) setDouble(h, n, i, v[i]);
  return h ? kOfxStatOK : kOfxStatErrBadHandle;
}
OfxStatus setIntN(OfxPropertySetHandle h, const char* n, int c, const int* v) {
  for (int i = 0; i < c; ++i) setInt(h, n, i, v[i]);
  return h ? kOfxStatOK : kOfxStatErrBadHandle;
}
OfxStatus getPointer(OfxPropertySetHandle h, const char* n, int i, void** v) {
  return read(h, n, i, Property::Type::Pointer, &Property::pointers, v);
}
OfxStatus getString(OfxPropertySetHandle h, const char* n, int i, char** v) {
  if (h == nullptr) return kOfxStatErrBadHandle;
  const Property* p = PropertySet::from(h)->find(n);
  if (p == nullptr) return kOfxStatErrUnknown;
  if (p->type != Property::Type::String) return kOfxStatErrValue;
  if (i < 0 || size_t(i) >= p->strings.size()) return kOfxStatErrBadIndex;
  *v = const_cast<char*>(p->strings[size_t(i)].c_str());
  return kOfxStatOK;
}
OfxStatus getDouble(OfxPropertySetHandle h, const char* n, int i, double* v) {
  return read(h, n, i, Property::Type::Double, &Property::doubles, v);
}
OfxStatus getInt(OfxPropertySetHandle h, const char* n, int i, int* v) {
  return read(h, n, i, Property::Type::Int, &Property::ints, v);
}
OfxStatus getPointerN(OfxPropertySetHandle h, const char* n, int c, void** v) {
  for (int i = 0; i < c; ++i)
    if (OfxStatus s = getPointer(h, n, i, &v[i]); s != kOfxStatOK) return s;
  return kOfxStatOK;
}
OfxStatus getStringN(OfxPropertySetHandle h, const char* n, int c, char** v) {
  for (int i = 0; i < c; ++i)
    if (OfxStatus s = getString(h, n, i, &v[i]); s != kOfxStatOK) return s;
  return kOfxStatOK;
}
OfxStatus getDoubleN(OfxPropertySetHandle h, const char* n, int c, double* v) {
  for (int i = 0; i < c; ++i)
    if (OfxStatus s = getDouble(h, n, i, &v[i]); s != kOfxStatOK) return s;
  return kOfxStatOK;
}
OfxStatus getIntN(OfxPropertySetHandle h, const char* n, int c, int* v) {
  for (int i = 0; i < c; ++i)
    if (OfxStatus s = getInt(h, n, i, &v[i]); s != kOfxStatOK) return s;
  return kOfxStatOK;
}
OfxStatus reset(OfxPropertySetHandle h, const char* n) {
  if (h == nullptr) return kOfxStatErrBadHandle;
  return PropertySet::from(h)->properties.erase(n) ? kOfxStatOK : kOfxStatErrUnknown;
}
OfxStatus dimension(OfxPropertySetHandle h, const char* n, int* count) {
  if (h == nullptr) return kOfxStatErrBadHandle;
  const Property* p = PropertySet::from(h)->find(n);
  if (p == nullptr) return kOfxStatErrUnknown;
  *count = p->dimension();
  return kOfxStatOK;
}

const OfxPropertySuiteV1 kSuite = {setPointer,  setString,  setDouble,  setInt,    setPointerN, setStringN,
                                   setDoubleN,  setIntN,    getPointer, getString, getDouble,   getInt,
                                   getPointerN, getStringN, getDoubleN, getIntN,   reset,       dimension};

}  // namespace

const OfxPropertySuiteV1* propertySuite() { return &kSuite; }

}  // namespace testhost
