#include "delivery/graph_client.h"

#include <sstream>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace gateway::delivery {

namespace {

Poco::Net::Context::Ptr tlsContext() {
  // The platform's certificate is checked against the system's CA store (OpenSSL's default
  // paths, which honour SSL_CERT_FILE/SSL_CERT_DIR) and must name the host we dialled.
  // VERIFY_STRICT, not RELAXED: Poco skips the host name check for loopback hosts unless strict.
  static Poco::Net::Context::Ptr context = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_STRICT, 9, true);
  return context;
}

// Poco's what() is the exception's class ("SSL Exception"); its displayText() says why.
std::string describe(const std::exception& e) {
  const auto* poco = dynamic_cast<const Poco::Exception*>(&e);
  return poco != nullptr ? poco->displayText() : e.what();
}

}  // namespace

GraphClient::GraphClient(std::chrono::milliseconds timeout) : timeout_(timeout) {}
GraphClient::~GraphClient() = default;

Poco::Net::HTTPClientSession& GraphClient::sessionFor(const std::string& scheme, const std::string& host,
                                                      unsigned short port) {
  const std::string key = scheme + "://" + host + ":" + std::to_string(port);
  auto& slot = sessions_[key];
  if (!slot) {
    if (scheme == "https") slot = std::make_unique<Poco::Net::HTTPSClientSession>(host, port, tlsContext());
    else slot = std::make_unique<Poco::Net::HTTPClientSession>(host, port);
    slot->setKeepAlive(true);
    const Poco::Timespan t(static_cast<long>(timeout_.count() / 1000), static_cast<long>(timeout_.count() % 1000) * 1000);
    slot->setTimeout(t, t, t);
  }
  return *slot;
}

HttpOutcome GraphClient::call(const HttpCall& call) {
  HttpOutcome out;
  Poco::URI uri;
  try {
    uri = Poco::URI(call.url);
  } catch (const std::exception& e) {
    out.error = std::string("bad url: ") + e.what();
    return out;
  }
  Poco::Net::HTTPClientSession* session = nullptr;
  try {
    session = &sessionFor(uri.getScheme(), uri.getHost(), uri.getPort());
  } catch (const std::exception& e) {
    out.error = describe(e);
    return out;
  }
  Poco::Net::HTTPRequest request(call.method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : call.headers) request.set(name, value);
  request.setContentLength64(static_cast<Poco::Int64>(call.body.size()));
  bool sent = false;
  try {
    std::ostream& body = session->sendRequest(request);
    body.write(call.body.data(), static_cast<std::streamsize>(call.body.size()));
    body.flush();
    sent = true;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    std::ostringstream text;
    Poco::StreamCopier::copyStream(in, text);
    out.kind = HttpOutcome::Kind::kResponse;
    out.status = response.getStatus();
    out.body = text.str();
  } catch (const std::exception& e) {
    session->reset();  // a broken connection is not reused
    out.kind = sent ? HttpOutcome::Kind::kUnknown : HttpOutcome::Kind::kNotSent;
    out.error = describe(e);
  }
  return out;
}

}  // namespace gateway::delivery
