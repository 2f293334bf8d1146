#include "storage/store.h"

namespace gateway::storage {

namespace {

[[noreturn]] void wrongType(std::size_t i, const char* wanted) {
  throw StoreError("column " + std::to_string(i) + " is not " + wanted);
}

}  // namespace

std::int64_t Row::getInt(std::size_t i) const {
  if (auto n = std::get_if<std::int64_t>(&values_.at(i))) return *n;
  wrongType(i, "an integer");
}

double Row::getDouble(std::size_t i) const {
  const Value& v = values_.at(i);
  if (auto d = std::get_if<double>(&v)) return *d;
  // Expressions and columns without REAL affinity hand whole numbers back as INTEGER.
  if (auto n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
  wrongType(i, "a number");
}

std::string Row::getText(std::size_t i) const {
  if (auto s = std::get_if<std::string>(&values_.at(i))) return *s;
  wrongType(i, "text");
}

std::optional<std::string> Row::findText(std::size_t i) const {
  if (isNull(i)) return std::nullopt;
  return getText(i);
}

std::optional<std::int64_t> Row::findInt(std::size_t i) const {
  if (isNull(i)) return std::nullopt;
  return getInt(i);
}

std::optional<Row> Tx::queryOne(std::string_view sql, const std::vector<Value>& params) {
  auto rows = query(sql, params);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::future<void> Store::write(std::function<void(Tx&)> fn) {
  auto promise = std::make_shared<std::promise<void>>();
  std::future<void> future = promise->get_future();
  write(std::move(fn), [promise](std::exception_ptr error) {
    if (error) promise->set_exception(error);
    else promise->set_value();
  });
  return future;
}

}  // namespace gateway::storage
