// Property sets of the test host: every object the plugin sees (effects,
// clips, images, parameters, action arguments) is one of these.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ofx/suites.h"

namespace testhost {

struct Property {
  enum class Type { String, Int, Double, Pointer } type = Type::String;
  std::vector<std::string> strings;
  std::vector<int> ints;
  std::vector<double> doubles;
  std::vector<void*> pointers;
  int dimension() const;
};

class PropertySet {
 public:
  // The handle the plugin holds is the set's address.
  OfxPropertySetHandle handle() { return reinterpret_cast<OfxPropertySetHandle>(this); }
  static PropertySet* from(OfxPropertySetHandle handle) { return reinterpret_cast<PropertySet*>(handle); }

  void setString(const std::string& name, const std::string& value, int index = 0);
  void setInt(const std::string& name, int value, int index = 0);
  void setDouble(const std::string& name, double value, int index = 0);
  void setPointer(const std::string& name, void* value, int index = 0);
  std::string getString(const std::string& name, int index = 0, const std::string& fallback = "") const;
  int getInt(const std::string& name, int index = 0, int fallback = 0) const;
  double getDouble(const std::string& name, int index = 0, double fallback = 0.0) const;
  const Property* find(const std::string& name) const;
  std::vector<std::string> names() const;

  std::map<std::string, Property> properties;
};

// The property suite over PropertySet.
const OfxPropertySuiteV1* propertySuite();

}  // namespace testhost
