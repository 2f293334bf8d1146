// Named loggers, made once. Plain text or one JSON object per line.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace gateway::log {

// Sets format ("text"|"json") and level for every logger, existing and future. Logs go to stderr.
void configure(const std::string& format, const std::string& level);

// The logger with this name ("http", "webhook", "storage", "plugin.whatsapp"), made on first use.
std::shared_ptr<spdlog::logger> get(const std::string& name);

}  // namespace gateway::log
