#include "config/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <regex>
#include <utility>

namespace gateway::config {

namespace {

std::string childPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string itemPath(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

bool matches(const std::string& value, const char* pattern) {
  return std::regex_match(value, std::regex(pattern));
}

// The one place ${VAR} is expanded. A single left-to-right pass: a value taken from the
// environment is never expanded again, and a '$' not followed by '{' is kept as it is.
// On failure `error` names the variable (never a value) and false is returned.
bool expandEnv(const std::string& in, std::string& out, std::string& error) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size() || in[i + 1] != '{') {
      out += in[i];
      continue;
    }
    const std::size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      error = "unterminated ${ (expected ${NAME})";
      return false;
    }
    // ${NAME} or ${NAME:-fallback}: the fallback (like the shell's) is used when NAME is unset
    // or empty; without one an unset variable is an error.
    const std::string reference = in.substr(i + 2, close - i - 2);
    const std::size_t dash = reference.find(":-");
    const std::string name = reference.substr(0, dash);
    // Checked before quoting it: a malformed reference might be part of a secret.
    if (!matches(name, "[A-Za-z_][A-Za-z0-9_]*")) {
      error = "invalid environment variable reference (expected ${NAME} or ${NAME:-fallback})";
      return false;
    }
    const char* value = std::getenv(name.c_str());
    if (dash != std::string::npos && (value == nullptr || *value == '\0')) {
      out += reference.substr(dash + 2);
    } else if (value == nullptr) {
      error = "environment variable " + name + " is not set";
      return false;
    } else {
      out += value;
    }
    i = close;
  }
  return true;
}

bool isBlank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

bool validPort(const std::string& text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5 || !matches(text, "[0-9]+")) return false;
  const long value = std::strtol(text.c_str(), nullptr, 10);
  if (value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

bool validHostname(const std::string& host) {
  // RFC 1123 labels; something made only of digits and dots must be a real IPv4 address.
  if (host.empty() || host.size() > 253) return false;
  if (matches(host, "[0-9.]+")) {
    in_addr addr{};
    return inet_pton(AF_INET, host.c_str(), &addr) == 1;
  }
  const char* label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
  return matches(host, (std::string("(") + label + ")(\\." + label + ")*").c_str());
}

// "host:port", "[v6]:port". Returns an empty string when valid, else what is wrong.
std::string parseListen(const std::string& text, std::string& host, std::uint16_t& port) {
  const std::string expected = "expected host:port (e.g. 127.0.0.1:8080 or [::1]:8080)";
  if (!text.empty() && text[0] == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return expected;
    }
    host = text.substr(1, close - 1);
    in6_addr addr{};
    if (inet_pton(AF_INET6, host.c_str(), &addr) != 1) return "invalid IPv6 address";
    if (!validPort(text.substr(close + 2), port)) return "port must be a number from 0 to 65535";
    return {};
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return expected;
  host = text.substr(0, colon);
  if (host.find(':') != std::string::npos) return "an IPv6 address needs brackets, e.g. [::1]:8080";
  if (!validHostname(host)) return "invalid host (expected an IPv4 address, a hostname or [IPv6])";
  if (!validPort(text.substr(colon + 1), port)) return "port must be a number from 0 to 65535";
  return {};
}

bool parseWholeNumber(const std::string& text, long long& value) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  // from_chars refuses a leading '+', which YAML allows.
  if (end - begin > 1 && *begin == '+' && begin[1] >= '0' && begin[1] <= '9') ++begin;
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  return begin != end && ec == std::errc() && ptr == end;
}

bool parseNumber(const std::string& text, double& value) {
  // Restrict to plain decimal notation: no hex floats, inf or nan.
  if (text.empty() || !matches(text, "[+-]?[0-9.eE+-]+")) return false;
  const char* begin = text.data();
  if (*begin == '+') ++begin;
  const auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(value);
}

// Walks the document once, filling a GatewayConfig and collecting every problem on the way.
// A key whose value is null (`app_id:`) counts as not given, so the default applies.
class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  std::vector<ConfigProblem> takeProblems() { return std::move(problems_); }

  void problem(const std::string& path, const YAML::Mark& mark, std::string message) {
    ConfigProblem p;
    p.keyPath = path;
    p.message = std::move(message);
    p.file = file_;
    if (mark.line >= 0) {
      p.line = mark.line + 1;
      p.column = mark.column + 1;
    }
    problems_.push_back(std::move(p));
  }

  void loadRoot(const YAML::Node& root, GatewayConfig& out) {
    Fields f = fields(root, "", {"server", "api", "storage", "plugins", "delivery", "log",
                                 "channels", "properties"});
    if (const auto* n = f.find("server")) loadServer(*n, "server", out.server);
    if (const auto* n = f.find("api")) loadApi(*n, "api", out.api);
    if (const auto* n = f.find("storage")) loadStorage(*n, "storage", out.storage);
    if (const auto* n = f.find("plugins")) loadPlugins(*n, "plugins", out.plugins);
    if (const auto* n = f.find("delivery")) loadDelivery(*n, "delivery", out.delivery);
    if (const auto* n = f.find("log")) loadLog(*n, "log", out.log);
    if (const auto* n = f.find("channels")) loadChannels(*n, "channels", out.channels);
    if (const auto* n = f.find("properties")) loadProperties(*n, "properties", out.properties);
  }

 private:
  // The entries of one mapping, after unknown and repeated keys have been reported.
  struct Fields {
    std::string path;
    YAML::Mark mark;  // of the mapping itself, for "required" problems
    std::vector<std::pair<std::string, YAML::Node>> entries;

    // Null when the key is absent or its value is null.
    const YAML::Node* find(const std::string& key) const {
      for (const auto& e : entries) {
        if (e.first == key) return e.second.IsNull() ? nullptr : &e.second;
      }
      return nullptr;
    }
  };

  Fields fields(const YAML::Node& node, const std::string& path,
                std::initializer_list<const char*> allowed) {
    Fields f;
    f.path = path;
    f.mark = node.Mark();
    if (node.IsNull()) return f;
    if (!node.IsMap()) {
      problem(path, node.Mark(), path.empty() ? "expected a mapping at the top level"
                                              : "expected a mapping");
      return f;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      // A copy: yaml-cpp's iterator hands out a temporary pair, and a reference to its
      // member dangles once the statement ends (AddressSanitizer: stack-use-after-scope).
      const YAML::Node keyNode = it->first;
      if (!keyNode.IsScalar()) {
        problem(path, keyNode.Mark(), "expected a key name");
        continue;
      }
      const std::string key = keyNode.Scalar();
      const std::string keyPath = childPath(path, key);
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) {
        problem(keyPath, keyNode.Mark(), "unknown key");
        continue;
      }
      bool repeated = false;
      for (const auto& e : f.entries) repeated = repeated || e.first == key;
      if (repeated) {
        problem(keyPath, keyNode.Mark(), "duplicate key");
        continue;
      }
      f.entries.emplace_back(key, it->second);
    }
    return f;
  }

  // The scalar's text with ${VAR} expanded, or nothing after reporting why not.
  std::optional<std::string> scalar(const YAML::Node& node, const std::string& path,
                                    const char* expected) {
    if (!node.IsScalar()) {
      problem(path, node.Mark(), expected);
      return std::nullopt;
    }
    std::string expanded;
    std::string error;
    if (!expandEnv(node.Scalar(), expanded, error)) {
      problem(path, node.Mark(), error);
      return std::nullopt;
    }
    return expanded;
  }

  // Each reader leaves `out` at its default when the key is absent or the value is bad, and
  // returns whether it took a value from the file.
  bool readString(const Fields& f, const char* key, std::string& out) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) return false;
    auto text = scalar(*n, childPath(f.path, key), "expected a string");
    if (!text) return false;
    out = *text;
    return true;
  }

  bool readNonEmpty(const Fields& f, const char* key, std::string& out) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) return false;
    std::string value;
    if (!readString(f, key, value)) return false;
    if (isBlank(value)) {
      problem(childPath(f.path, key), n->Mark(), "must not be empty");
      return false;
    }
    out = value;
    return true;
  }

  // Credentials: no default, must be present and non-empty. Values are never quoted.
  void readRequired(const Fields& f, const char* key, std::string& out) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) {
      problem(childPath(f.path, key), f.mark, "required");
      return;
    }
    std::string value;
    if (!readString(f, key, value)) return;
    if (isBlank(value)) {
      problem(childPath(f.path, key), n->Mark(), "required (the value is empty)");
      return;
    }
    out = value;
  }

  bool readBool(const Fields& f, const char* key, bool& out) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) return false;
    const std::string path = childPath(f.path, key);
    auto text = scalar(*n, path, "expected a boolean (true or false)");
    if (!text) return false;
    if (*text == "true" || *text == "True" || *text == "TRUE") {
      out = true;
    } else if (*text == "false" || *text == "False" || *text == "FALSE") {
      out = false;
    } else {
      problem(path, n->Mark(), "expected a boolean (true or false)");
      return false;
    }
    return true;
  }

  template <typename Int>
  bool readWhole(const Fields& f, const char* key, Int& out, long long min) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) return false;
    const std::string path = childPath(f.path, key);
    auto text = scalar(*n, path, "expected a whole number");
    if (!text) return false;
    long long value = 0;
    if (!parseWholeNumber(*text, value)) {
      problem(path, n->Mark(), "expected a whole number");
      return false;
    }
    if (value < min) {
      problem(path, n->Mark(), "must be at least " + std::to_string(min));
      return false;
    }
    if (static_cast<unsigned long long>(value) >
        static_cast<unsigned long long>(std::numeric_limits<Int>::max())) {
      problem(path, n->Mark(), "too large");
      return false;
    }
    out = static_cast<Int>(value);
    return true;
  }

  // One of a fixed set of words; the value is quoted because such keys are never secret.
  template <typename T>
  bool readChoice(const Fields& f, const char* key, T& out,
                  std::initializer_list<std::pair<const char*, T>> choices) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) return false;
    const std::string path = childPath(f.path, key);
    auto text = scalar(*n, path, "expected a string");
    if (!text) return false;
    std::string names;
    for (const auto& c : choices) {
      if (*text == c.first) {
        out = c.second;
        return true;
      }
      names += names.empty() ? c.first : std::string(", ") + c.first;
    }
    problem(path, n->Mark(), "\"" + *text + "\" is not one of " + names);
    return false;
  }

  void loadServer(const YAML::Node& node, const std::string& path, ServerConfig& out) {
    Fields f = fields(node, path, {"listen", "max_body_bytes", "max_threads", "max_queued",
                                   "keep_alive_timeout_s", "request_timeout_s", "listen_backlog"});
    std::string listen;
    if (readString(f, "listen", listen)) {
      std::string host;
      std::uint16_t port = 0;
      const std::string error = parseListen(listen, host, port);
      if (error.empty()) {
        out.host = host;  // an IPv6 address without its brackets
        out.port = port;
      } else {
        problem(childPath(path, "listen"), f.find("listen")->Mark(),
                "\"" + listen + "\": " + error);
      }
    }
    readWhole(f, "max_body_bytes", out.maxBodyBytes, 1);
    readWhole(f, "max_threads", out.maxThreads, 1);
    readWhole(f, "max_queued", out.maxQueued, 1);
    readWhole(f, "keep_alive_timeout_s", out.keepAliveTimeoutS, 1);
    readWhole(f, "request_timeout_s", out.requestTimeoutS, 1);
    readWhole(f, "listen_backlog", out.listenBacklog, 1);
  }

  void loadApi(const YAML::Node& node, const std::string& path, ApiConfig& out) {
    Fields f = fields(node, path, {"tokens"});
    const YAML::Node* tokens = f.find("tokens");
    if (tokens == nullptr) return;
    const std::string tokensPath = childPath(path, "tokens");
    if (!tokens->IsSequence()) {
      problem(tokensPath, tokens->Mark(), "expected a list");
      return;
    }
    for (std::size_t i = 0; i < tokens->size(); ++i) {
      const YAML::Node item = (*tokens)[i];
      const std::string p = itemPath(tokensPath, i);
      auto token = scalar(item, p, "expected a string");
      if (!token) continue;
      if (isBlank(*token)) {
        problem(p, item.Mark(), "must not be empty");
        continue;
      }
      out.tokens.push_back(*token);
    }
  }

  void loadStorage(const YAML::Node& node, const std::string& path, StorageConfig& out) {
    Fields f = fields(node, path, {"driver", "path", "uri"});
    const bool driverOk = f.find("driver") == nullptr ||
        readChoice(f, "driver", out.driver,
                   {{"sqlite", StorageDriver::kSqlite}, {"postgres", StorageDriver::kPostgres}});
    readNonEmpty(f, "path", out.path);
    const bool hasUri = readString(f, "uri", out.uri) && !isBlank(out.uri);
    if (driverOk && out.driver == StorageDriver::kPostgres && !hasUri) {
      problem(childPath(path, "uri"), f.mark, "required when driver is postgres");
    }
  }

  void loadPlugins(const YAML::Node& node, const std::string& path, PluginsConfig& out) {
    Fields f = fields(node, path, {"dir"});
    readNonEmpty(f, "dir", out.dir);
  }

  void loadDelivery(const YAML::Node& node, const std::string& path, DeliveryConfig& out) {
    Fields f = fields(node, path, {"max_attempts", "max_age_s", "request_timeout_ms", "retry_base_ms",
                                   "unknown_grace_s", "workers"});
    readWhole(f, "max_attempts", out.maxAttempts, 1);
    readWhole(f, "max_age_s", out.maxAgeS, 1);
    readWhole(f, "request_timeout_ms", out.requestTimeoutMs, 1);
    readWhole(f, "retry_base_ms", out.retryBaseMs, 1);
    readWhole(f, "unknown_grace_s", out.unknownGraceS, 1);
    readWhole(f, "workers", out.workers, 1);
  }

  void loadLog(const YAML::Node& node, const std::string& path, LogConfig& out) {
    Fields f = fields(node, path, {"level", "format"});
    readChoice(f, "level", out.level,
               {{"trace", std::string("trace")}, {"debug", std::string("debug")},
                {"info", std::string("info")}, {"warn", std::string("warn")},
                {"error", std::string("error")}, {"critical", std::string("critical")},
                {"off", std::string("off")}});
    readChoice(f, "format", out.format, {{"text", LogFormat::kText}, {"json", LogFormat::kJson}});
  }

  // Checks that `node` is a list (null counts as empty) before its items are read.
  bool isList(const YAML::Node& node, const std::string& path) {
    if (node.IsNull() || node.IsSequence()) return true;
    problem(path, node.Mark(), "expected a list");
    return false;
  }

  // A value that must match `pattern` (anchored). Such keys are never secret, so the value
  // is quoted. Absent keys are reported as required when `required` is set.
  bool readMatching(const Fields& f, const char* key, std::string& out, const char* pattern,
                    const char* hint, bool required) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) {
      if (required) problem(childPath(f.path, key), f.mark, "required");
      return false;
    }
    std::string value;
    if (!readString(f, key, value)) return false;
    if (!matches(value, pattern)) {
      problem(childPath(f.path, key), n->Mark(), "\"" + value + "\" " + hint);
      return false;
    }
    out = value;
    return true;
  }

  bool readPositiveNumber(const Fields& f, const char* key, double& out) {
    const YAML::Node* n = f.find(key);
    if (n == nullptr) return false;
    const std::string path = childPath(f.path, key);
    auto text = scalar(*n, path, "expected a number");
    if (!text) return false;
    double value = 0;
    if (!parseNumber(*text, value)) {
      problem(path, n->Mark(), "expected a number");
      return false;
    }
    if (value <= 0) {
      problem(path, n->Mark(), "must be greater than 0");
      return false;
    }
    out = value;
    return true;
  }

  // Remembers where each value was first seen so a repeat can name both places.
  // `describe` is what goes into the message, so a caller can leave a value out of it.
  using Seen = std::vector<std::pair<std::string, std::string>>;  // value -> item path
  void checkUnique(Seen& seen, const std::string& value, const std::string& itemPath,
                   const std::string& keyPath, const YAML::Mark& mark,
                   const std::string& describe) {
    for (const auto& s : seen) {
      if (s.first == value) {
        problem(keyPath, mark, describe + " (also " + s.second + ")");
        return;
      }
    }
    seen.emplace_back(value, itemPath);
  }

  void loadChannels(const YAML::Node& node, const std::string& path,
                    std::vector<ChannelConfig>& out) {
    if (!isList(node, path)) return;
    Seen ids;
    Seen accounts;  // "type/account_id"
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string p = itemPath(path, i);
      if (!item.IsMap()) {
        problem(p, item.Mark(), "expected a mapping");
        continue;
      }
      Fields f = fields(item, p,
                        {"id", "type", "enabled", "account_id", "app_secret", "app_id",
                         "verify_token", "access_token", "graph_base_url", "api_version",
                         "rate_limit_mps"});
      ChannelConfig c;
      if (readMatching(f, "id", c.id, "[a-z0-9-]+", "must match [a-z0-9-]+", true)) {
        checkUnique(ids, c.id, p, childPath(p, "id"), f.find("id")->Mark(),
                    "duplicate channel id \"" + c.id + "\"");
      }
      // Which types have a plugin is for the plugin loader to say.
      readMatching(f, "type", c.type, "[a-z0-9_]+", "must match [a-z0-9_]+", true);
      readBool(f, "enabled", c.enabled);
      readRequired(f, "account_id", c.accountId);
      readRequired(f, "app_secret", c.appSecret);
      readString(f, "app_id", c.appId);
      readRequired(f, "verify_token", c.verifyToken);
      readRequired(f, "access_token", c.accessToken);
      // Webhooks are routed by account; two channels answering for one would be ambiguous.
      if (!c.type.empty() && !c.accountId.empty()) {
        checkUnique(accounts, c.type + "/" + c.accountId, p, childPath(p, "account_id"),
                    f.find("account_id")->Mark(),
                    "another " + c.type + " channel has this account");
      }
      if (readMatching(f, "graph_base_url", c.graphBaseUrl, "https?://[^/\\s]+(/\\S*)?",
                       "must start with http:// or https:// and name a host", false)) {
        // Callers append "/v21.0/..."; a trailing slash would double it.
        while (c.graphBaseUrl.back() == '/') c.graphBaseUrl.pop_back();
      }
      readMatching(f, "api_version", c.apiVersion, "v[0-9]+\\.[0-9]+", "must look like v21.0",
                   false);
      readPositiveNumber(f, "rate_limit_mps", c.rateLimitMps);
      out.push_back(std::move(c));
    }
  }

  void loadProperties(const YAML::Node& node, const std::string& path,
                      std::vector<PropertyDef>& out) {
    if (!isList(node, path)) return;
    Seen keys;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string p = itemPath(path, i);
      if (!item.IsMap()) {
        problem(p, item.Mark(), "expected a mapping");
        continue;
      }
      Fields f = fields(item, p, {"key", "label", "type"});
      PropertyDef d;
      if (readMatching(f, "key", d.key, "[a-z][a-z0-9_]*", "must match [a-z][a-z0-9_]*", true)) {
        checkUnique(keys, d.key, p, childPath(p, "key"), f.find("key")->Mark(),
                    "duplicate property key \"" + d.key + "\"");
      }
      readString(f, "label", d.label);
      if (isBlank(d.label)) d.label = d.key;
      readChoice(f, "type", d.type,
                 {{"text", PropertyType::kText}, {"number", PropertyType::kNumber},
                  {"boolean", PropertyType::kBoolean}, {"date", PropertyType::kDate}});
      out.push_back(std::move(d));
    }
  }

  std::string file_;
  std::vector<ConfigProblem> problems_;
};

LoadResult failure(const std::string& file, int line, int column, std::string message) {
  ConfigProblem p;
  p.message = std::move(message);
  p.file = file;
  p.line = line;
  p.column = column;
  LoadResult result;
  result.problems.push_back(std::move(p));
  return result;
}

}  // namespace

const ChannelConfig* GatewayConfig::findChannel(const std::string& id) const {
  for (const ChannelConfig& c : channels) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

std::string ConfigProblem::toString() const {
  std::string s = keyPath.empty() ? message : keyPath + ": " + message;
  if (file.empty() && line == 0) return s;
  s += " (" + (file.empty() ? std::string("<config>") : file);
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  return s + ")";
}

LoadResult loadString(const std::string& yamlText, const std::string& nameForMessages) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yamlText);
  } catch (const YAML::Exception& e) {
    // e.msg, not e.what(): the parser's text only, without any of the document echoed.
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    const int column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    return failure(nameForMessages, line, column, "invalid YAML: " + e.msg);
  }
  if (documents.empty() || documents[0].IsNull()) {
    return failure(nameForMessages, 0, 0, "the config is empty");
  }
  if (documents.size() > 1) {
    const YAML::Mark mark = documents[1].Mark();
    return failure(nameForMessages, mark.line >= 0 ? mark.line + 1 : 0,
                   mark.column >= 0 ? mark.column + 1 : 0,
                   "expected a single YAML document, found " + std::to_string(documents.size()));
  }

  auto config = std::make_shared<GatewayConfig>();
  Loader loader(nameForMessages);
  try {
    loader.loadRoot(documents[0], *config);
  } catch (const YAML::Exception& e) {
    // The walk only asks for what it has checked is there; this guards against a surprise
    // inside yaml-cpp, still without echoing the document.
    loader.problem("", e.mark, "cannot read the config: " + e.msg);
  }
  LoadResult result;
  result.problems = loader.takeProblems();
  if (result.problems.empty()) result.config = std::move(config);
  return result;
}

LoadResult loadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return failure(path, 0, 0, std::string("cannot open: ") + std::strerror(errno));
  }
  std::string text;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  const bool readFailed = std::ferror(file) != 0;
  const int readErrno = errno;
  std::fclose(file);
  if (readFailed) {
    return failure(path, 0, 0, std::string("cannot read: ") + std::strerror(readErrno));
  }

  LoadResult result = loadString(text, path);
  if (result.config) {
    auto config = std::make_shared<GatewayConfig>(*result.config);
    config->sourcePath = path;
    result.config = std::move(config);
  }
  return result;
}

}  // namespace gateway::config
