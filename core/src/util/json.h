// JSON in the core: RapidJSON (also what the plugins use), wrapped just enough that
// rendering an optional value or a stored JSON fragment is one call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace gateway::util {

class JsonWriter {
 public:
  JsonWriter() : writer_(buffer_) {}

  JsonWriter& startObject() { writer_.StartObject(); return *this; }
  JsonWriter& endObject() { writer_.EndObject(); return *this; }
  JsonWriter& startArray() { writer_.StartArray(); return *this; }
  JsonWriter& endArray() { writer_.EndArray(); return *this; }
  JsonWriter& key(const char* k) { writer_.Key(k); return *this; }
  JsonWriter& string(const std::string& s) {
    writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return *this;
  }
  JsonWriter& string(const char* s) { writer_.String(s); return *this; }
  JsonWriter& optString(const std::optional<std::string>& s) {
    if (s) return string(*s);
    writer_.Null();
    return *this;
  }
  JsonWriter& integer(std::int64_t v) { writer_.Int64(v); return *this; }
  JsonWriter& number(double v) { writer_.Double(v); return *this; }
  JsonWriter& boolean(bool v) { writer_.Bool(v); return *this; }
  JsonWriter& null() { writer_.Null(); return *this; }
  // Splices already-serialized JSON (a stored object or array) in as a value.
  JsonWriter& raw(const std::string& json) {
    writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
    return *this;
  }
  JsonWriter& optRaw(const std::optional<std::string>& json) {
    if (json) return raw(*json);
    writer_.Null();
    return *this;
  }
  // Key + value in one call for the common cases.
  JsonWriter& field(const char* k, const std::string& v) { return key(k).string(v); }
  JsonWriter& field(const char* k, const std::optional<std::string>& v) { return key(k).optString(v); }
  JsonWriter& field(const char* k, bool v) { return key(k).boolean(v); }

  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// Compact JSON text of a value.
std::string toJson(const rapidjson::Value& value);

// Parses text into doc; false (with nothing thrown) when it is not JSON. Nesting is
// limited so hostile input cannot exhaust the stack.
bool parseJson(const std::string& text, rapidjson::Document& doc);

}  // namespace gateway::util
