// docs/openapi.yaml against the routes the server really serves: a Gateway is built
// in-process from a test config (plugins loaded, store migrated, not listening) and its
// router's "METHOD /pattern" list is compared with the document's paths and methods.
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "app/gateway.h"
#include "config/config.h"
#include "test_support.h"

namespace gt = gateway::testing;

namespace {

const char* const kMethods[] = {"get", "put", "post", "delete", "patch", "head", "options"};

// "{id}" and "{contactId}" name the same segment: only the shape is compared.
std::string normalize(const std::string& route) {
  std::string out;
  bool inParam = false;
  for (char c : route) {
    if (c == '{') {
      inParam = true;
      out += "{}";
    } else if (c == '}') {
      inParam = false;
    } else if (!inParam) {
      out += c;
    }
  }
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

YAML::Node loadDocument() { return YAML::LoadFile(gt::sourceDir() + "/docs/openapi.yaml"); }

std::set<std::string> documentedRoutes(const YAML::Node& doc) {
  std::set<std::string> out;
  for (const auto& path : doc["paths"]) {
    for (const char* method : kMethods) {
      if (path.second[method]) out.insert(normalize(upper(method) + " " + path.first.as<std::string>()));
    }
  }
  return out;
}

std::set<std::string> servedRoutes() {
  gt::TempDir dir;
  gt::TestConfig config;
  config.port = gt::freePort();
  config.dbPath = dir.file("data/gateway.db");
  const gateway::config::LoadResult loaded =
      gateway::config::loadString(gt::makeConfigYaml(config), "openapi_tests.yaml");
  EXPECT_TRUE(loaded.ok());
  if (!loaded.ok()) return {};
  std::set<std::string> out;
  gateway::app::Gateway gateway(loaded.config);
  for (const std::string& route : gateway.router().routes()) out.insert(normalize(route));
  return out;
}

// Every "{name}" in a path template, in order.
std::vector<std::string> templateParams(const std::string& path) {
  std::vector<std::string> out;
  for (std::size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
    out.push_back(path.substr(open + 1, path.find('}', open) - open - 1));
  }
  return out;
}

// A parameter object, following a local "$ref: '#/components/parameters/X'".
YAML::Node resolve(const YAML::Node& doc, const YAML::Node& node) {
  if (!node["$ref"]) return node;
  const std::string ref = node["$ref"].as<std::string>();
  const std::string prefix = "#/components/parameters/";
  if (ref.compare(0, prefix.size(), prefix) != 0) return YAML::Node();
  return doc["components"]["parameters"][ref.substr(prefix.size())];
}

// Every "$ref" anywhere below node.
void collectRefs(const YAML::Node& node, std::vector<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.as<std::string>() == "$ref" && kv.second.IsScalar()) out.push_back(kv.second.as<std::string>());
      else collectRefs(kv.second, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) collectRefs(item, out);
  }
}

// The node at a "#/a/b/c" path, or an undefined node.
YAML::Node lookup(const YAML::Node& node, const std::vector<std::string>& parts, std::size_t i) {
  if (i == parts.size()) return node;
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node child = node[parts[i]];
  if (!child) return child;
  return lookup(child, parts, i + 1);
}

}  // namespace

TEST(OpenApi, EveryServedRouteIsDocumented) {
  const std::set<std::string> served = servedRoutes();
  ASSERT_GT(served.size(), 10u);
  const std::set<std::string> documented = documentedRoutes(loadDocument());
  for (const std::string& route : served) {
    EXPECT_TRUE(documented.count(route)) << route << " is served but missing from docs/openapi.yaml";
  }
}

TEST(OpenApi, EveryDocumentedRouteIsServed) {
  const std::set<std::string> served = servedRoutes();
  for (const std::string& route : documentedRoutes(loadDocument())) {
    EXPECT_TRUE(served.count(route)) << route << " is in docs/openapi.yaml but the server does not serve it";
  }
}

TEST(OpenApi, DocumentIsWellFormed) {
  const YAML::Node doc = loadDocument();
  ASSERT_TRUE(doc["openapi"]);
  EXPECT_THAT(doc["openapi"].as<std::string>(), ::testing::StartsWith("3."));
  EXPECT_TRUE(doc["info"]["title"] && doc["info"]["version"]);
  ASSERT_TRUE(doc["components"]["securitySchemes"]["bearer"]);

  std::set<std::string> operationIds;
  for (const auto& path : doc["paths"]) {
    const std::string p = path.first.as<std::string>();
    const std::vector<std::string> params = templateParams(p);
    for (const char* method : kMethods) {
      const YAML::Node op = path.second[method];
      if (!op) continue;
      const std::string where = upper(method) + " " + p;
      ASSERT_TRUE(op["operationId"]) << where;
      EXPECT_TRUE(operationIds.insert(op["operationId"].as<std::string>()).second) << where << ": operationId repeated";
      ASSERT_TRUE(op["responses"] && op["responses"].size() > 0) << where;
      if (p.compare(0, 4, "/v1/") == 0) {
        EXPECT_TRUE(op["responses"]["401"]) << where << ": /v1 needs a token, document the 401";
      }
      // Each {name} of the template is declared as a path parameter.
      std::set<std::string> declared;
      for (const YAML::Node& list : {path.second["parameters"], op["parameters"]}) {
        if (!list) continue;
        for (const auto& item : list) {
          const YAML::Node param = resolve(doc, item);
          if (param && param["in"] && param["in"].as<std::string>() == "path") {
            declared.insert(param["name"].as<std::string>());
          }
        }
      }
      for (const std::string& name : params) EXPECT_TRUE(declared.count(name)) << where << ": {" << name << "} undeclared";
    }
  }
  // Every local reference points at something.
  std::vector<std::string> refs;
  collectRefs(doc, refs);
  ASSERT_FALSE(refs.empty());
  for (const std::string& ref : refs) {
    ASSERT_EQ(ref.compare(0, 2, "#/"), 0) << ref;
    std::vector<std::string> parts;
    for (std::size_t start = 2;;) {
      const std::size_t slash = ref.find('/', start);
      parts.push_back(ref.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    const YAML::Node node = lookup(doc, parts, 0);
    EXPECT_TRUE(node && !node.IsNull()) << "dangling $ref " << ref;
  }
}
