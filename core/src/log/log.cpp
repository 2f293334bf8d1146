#include "log/log.h"

#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace gateway::log {

namespace {

std::mutex& mutex() {
  static std::mutex m;
  return m;
}

std::shared_ptr<spdlog::sinks::sink>& sink() {
  static std::shared_ptr<spdlog::sinks::sink> s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return s;
}

// %* : the message escaped for a JSON string. The message is "event key=value ..." text;
// it goes whole into one "msg" field rather than being parsed.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char escaped[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
        dest.append(escaped, escaped + sizeof escaped);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

constexpr const char* kJsonPattern =
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":"%*"})";
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %l %n: %v";

std::string& pattern() {
  static std::string p = kTextPattern;
  return p;
}

void applyPattern(spdlog::logger& logger) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<JsonEscapedMessage>('*').set_pattern(pattern());
  logger.set_formatter(std::move(formatter));
}

spdlog::level::level_enum& level() {
  static spdlog::level::level_enum l = spdlog::level::info;
  return l;
}

}  // namespace

void configure(const std::string& format, const std::string& levelName) {
  std::lock_guard<std::mutex> lock(mutex());
  pattern() = format == "json" ? kJsonPattern : kTextPattern;
  level() = spdlog::level::from_str(levelName);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    applyPattern(*l);
    l->set_level(level());
  });
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex());
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, sink());
  applyPattern(*logger);
  logger->set_level(level());
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace gateway::log
