// Prometheus metrics: counters, gauges and histograms with labels, rendered as text.
// Hot paths look a series up once (by labels) and keep the reference; series are never
// removed, so references stay valid for the registry's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gateway::http {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::int64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::int64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::int64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<std::int64_t> count_{0};
  std::atomic<std::int64_t> sumMicros_{0};  // sum kept in millionths for an atomic add
};

class Metrics {
 public:
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {});
  // A gauge read when rendering (queue depth, pending schedules): never stale, no bookkeeping.
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);

  std::string renderPrometheus() const;

  // Request latency buckets, in seconds.
  static const std::vector<double>& latencyBuckets();

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;      // by rendered labels
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // by rendered labels
    std::function<double()> gauge;
  };
  Family& family(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// {a="1",b="2"} with Prometheus escaping; empty string for no labels.
std::string renderLabels(const Labels& labels);

}  // namespace gateway::http
