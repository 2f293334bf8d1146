#include "fake_graph.h"

#include <sstream>
#include <thread>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include "test_support.h"

namespace gateway::testing {

namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(FakeGraph& graph) : graph_(graph) {}
  void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
    FakeGraph::Recorded r;
    r.at = std::chrono::steady_clock::now();
    r.method = in.getMethod();
    r.path = in.getURI();
    r.authorization = in.get("Authorization", "");
    std::ostringstream body;
    Poco::StreamCopier::copyStream(in.stream(), body);
    r.body = body.str();
    const FakeGraph::Answer answer = graph_.answerFor(r);
    if (answer.delay.count() > 0) std::this_thread::sleep_for(answer.delay);
    out.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    out.setContentType("application/json");
    out.setContentLength64(static_cast<Poco::Int64>(answer.body.size()));
    out.send() << answer.body;
  }

 private:
  FakeGraph& graph_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(FakeGraph& graph) : graph_(graph) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(graph_);
  }

 private:
  FakeGraph& graph_;
};

Poco::Net::ServerSocket listen(FakeGraph::Transport transport, const std::string& host) {
  const Poco::Net::SocketAddress address(host, 0);
  if (transport == FakeGraph::kPlain) return Poco::Net::ServerSocket(address, 256);
  const std::string dir = fixturesDir() + "/tls/";
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, dir + "server.key",
                                                           dir + "server.crt", "", Poco::Net::Context::VERIFY_NONE);
  return Poco::Net::SecureServerSocket(address, 256, context);
}

}  // namespace

FakeGraph::FakeGraph(Transport transport, std::string host) : transport_(transport), host_(std::move(host)) {
  Poco::Net::ServerSocket socket = listen(transport, host_);
  port_ = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(64);
  params->setKeepAlive(true);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
  server_->start();
}

FakeGraph::~FakeGraph() { server_->stopAll(true); }

int FakeGraph::connections() const { return server_->totalConnections(); }

std::string FakeGraph::baseUrl() const {
  return (transport_ == kTls ? "https://" : "http://") + host_ + ":" + std::to_string(port_);
}

void FakeGraph::script(const std::string& match, std::vector<Answer> answers) {
  std::lock_guard<std::mutex> lock(mutex_);
  scripts_.emplace_back(match, std::deque<Answer>(answers.begin(), answers.end()));
}

FakeGraph::Answer FakeGraph::answerFor(Recorded recorded) {
  std::lock_guard<std::mutex> lock(mutex_);
  Answer answer;
  bool scripted = false;
  for (auto& [match, answers] : scripts_) {
    if (!answers.empty() && (match.empty() || recorded.body.find(match) != std::string::npos)) {
      answer = answers.front();
      answers.pop_front();
      scripted = true;
      break;
    }
  }
  ++served_;
  if (!scripted || answer.body.empty()) {
    if (answer.status == 200) {
      // Success shaped like the platform's: WhatsApp bodies name their product.
      const std::string id = std::to_string(served_);
      answer.body = recorded.body.find("\"messaging_product\"") != std::string::npos
                        ? R"({"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.FAKE)" + id + R"("}]})"
                        : R"({"recipient_id":"x","message_id":"m_FAKE)" + id + R"("})";
    }
  }
  recorded.answeredStatus = answer.status;
  requests_.push_back(std::move(recorded));
  return answer;
}

std::vector<FakeGraph::Recorded> FakeGraph::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::size_t FakeGraph::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_.size();
}

std::string graphError(int code, const std::string& message, bool transient, int subcode) {
  std::ostringstream out;
  out << R"({"error":{"message":")" << message << R"(","type":"OAuthException","code":)" << code;
  if (subcode) out << R"(,"error_subcode":)" << subcode;
  if (transient) out << R"(,"is_transient":true)";
  out << R"(,"fbtrace_id":"FAKE"}})";
  return out.str();
}

}  // namespace gateway::testing
