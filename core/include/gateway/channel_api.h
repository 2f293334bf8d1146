// The channel plugin API: the only header a channel plugin compiles against.
//
// Compatibility policy
// - GATEWAY_CHANNEL_API_VERSION is bumped on ANY change to a type, a field, an enumerator,
//   a method or their order in this file. The core refuses a plugin whose Descriptor carries
//   another version, naming the file and both versions. tests/loader checks a hash of this
//   file so an edit without a bump fails the build's tests.
// - Plugins are built in the same CMake tree with the same compiler as the core; the build
//   signature (compiler major + libstdc++ ABI flag) catches mixed deployments.
// - Nothing owning crosses this boundary: no STL container, Poco, yaml-cpp or spdlog type.
//   Every pointer in an argument is borrowed for the duration of the call only.
// - Exceptions never cross: every entry point is noexcept; plugins wrap their bodies in
//   guarded() so a bug becomes Outcome::kInternal instead of unwinding into the core.
//
// Threading: the core may call one Channel from several threads at once (webhook requests
// run in parallel); plugins keep no mutable state in a Channel beyond what create() set up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>

#define GATEWAY_CHANNEL_API_VERSION 1

#define GATEWAY_PLUGIN_EXPORT __attribute__((visibility("default")))
#define GATEWAY_API_STR2(x) #x
#define GATEWAY_API_STR(x) GATEWAY_API_STR2(x)
#if defined(__clang__)
#define GATEWAY_COMPILER_ID "clang-" GATEWAY_API_STR(__clang_major__)
#elif defined(__GNUC__)
#define GATEWAY_COMPILER_ID "gcc-" GATEWAY_API_STR(__GNUC__)
#else
#define GATEWAY_COMPILER_ID "unknown"
#endif
// _GLIBCXX_USE_CXX11_ABI is defined by every libstdc++ header (cstddef above).
#define GATEWAY_BUILD_SIGNATURE GATEWAY_COMPILER_ID "/cxx11abi=" GATEWAY_API_STR(_GLIBCXX_USE_CXX11_ABI)

// Name of the single exported C symbol of a plugin.
#define GATEWAY_CHANNEL_ENTRY_SYMBOL "gateway_channel_descriptor"

namespace gateway::channel_api {
inline namespace v1 {

// A borrowed byte range. data == nullptr means "absent" (JSON null), which differs from
// an empty string (data != nullptr, size == 0).
struct Bytes {
  const char* data = nullptr;
  std::size_t size = 0;

  constexpr bool isNull() const noexcept { return data == nullptr; }
  bool equals(const char* s) const noexcept {
    const std::size_t n = std::strlen(s);
    return data != nullptr && n == size && std::memcmp(data, s, n) == 0;
  }
};

inline Bytes bytesOf(const char* s) noexcept { return s ? Bytes{s, std::strlen(s)} : Bytes{}; }

// Result of every plugin entry point.
enum class Outcome : std::uint32_t {
  kOk,           // done; outputs were written
  kRejected,     // authentication failed (bad or missing signature)
  kMalformed,    // input is not what the platform sends (not JSON, truncated, wrong types)
  kUnsupported,  // well-formed but not for us (other `object`, unknown payload shape)
  kInternal,     // a bug or exception inside the plugin; the core logs and carries on
};

enum class LogLevel : std::int32_t { kDebug, kInfo, kWarn, kError };

// Services the core offers to plugins. Plain function pointers; ctx is the core's.
// Valid from create() until destroy() of every Channel created with it. Thread-safe.
struct HostApi {
  void* ctx;
  // One line, routed to the logger "plugin.<type>". Never pass secrets or message text above debug.
  void (*log)(void* ctx, LogLevel level, Bytes line) noexcept;
  // HMAC-SHA256(key, data) into out. Returns false only when the crypto library fails.
  bool (*hmacSha256)(void* ctx, Bytes key, Bytes data, unsigned char out[32]) noexcept;
};

// Per-channel settings from the config, borrowed for the duration of create() only:
// a plugin copies what it keeps. Absent optional values are null Bytes.
struct ChannelSettings {
  Bytes id;            // channel id from the config ("wa-main")
  Bytes type;          // "whatsapp" | "messenger" | "instagram"
  Bytes accountId;     // phone_number_id | page id | Instagram account id
  Bytes appSecret;     // HMAC key for X-Hub-Signature-256
  Bytes appId;         // our Meta app id (optional): tells own echoes from other apps'
  Bytes verifyToken;   // GET handshake token
  Bytes accessToken;   // Graph API token used in send requests
  Bytes apiVersion;    // "v21.0"
};

// A webhook request as received. Header names are lower-case. Body is the raw bytes.
struct Header {
  Bytes name;
  Bytes value;
};
struct HttpView {
  Bytes method;
  Bytes path;
  Bytes query;
  const Header* headers;
  std::size_t headerCount;
  Bytes body;
};

inline Bytes findHeader(const HttpView& request, const char* lowerName) noexcept {
  for (std::size_t i = 0; i < request.headerCount; ++i) {
    if (request.headers[i].name.equals(lowerName)) return request.headers[i].value;
  }
  return Bytes{};
}

// ---- Inbound: normalized events (see shared/platforms/README.md §6) ----

enum class EventKind : std::uint32_t {
  kMessage,         // a message from the person (inbound) or an echo of ours/another app's (outbound)
  kStatus,          // WhatsApp status of an outbound message (sent/delivered/read/played/failed)
  kDelivery,        // Messenger/Instagram delivery receipt (watermark)
  kRead,            // read receipt (watermark) / Instagram seen
  kReaction,        // reaction or un-reaction; target = reacted message
  kMessageDeleted,  // unsend / revoke; target = deleted message
  kMessageEdited,   // edit; target = edited message, text = new text
  kPostback,        // button postback
  kReferral,        // referral without a message (ads, m.me links)
  kHandover,        // thread control passed/taken/requested
  kSystem,          // WhatsApp system notice (number change, identity change)
  kAccountError,    // WhatsApp value-level errors[]
  kUnknown,         // an event the plugin does not understand; rawJson holds it
};

enum class Direction : std::uint32_t { kInbound, kOutbound };

// One normalized event. All Bytes are borrowed for the duration of EventSink::onEvent.
struct Event {
  EventKind kind = EventKind::kUnknown;
  Direction direction = Direction::kInbound;
  Bytes businessAccountId;   // routes the event to the channel with this account_id
  Bytes externalUserId;      // the person: wa_id / BSUID / PSID / IGSID (also on echoes, statuses)
  Bytes userIdKind;          // "wa_id" | "bsuid" | "psid" | "igsid"
  Bytes externalMessageId;   // wamid / mid of the event; for statuses the wamid it refers to
  Bytes targetMessageId;     // message acted upon (reaction, delete, edit, seen)
  Bytes replyToMessageId;    // quoted message
  Bytes contentType;         // platform content type (text, image, ..., unsupported)
  Bytes text;                // typed/tapped text, caption, emoji; null when none
  std::int64_t timestampMs = 0;  // platform's own time of the event, UTC ms
  Bytes profileName;         // WhatsApp profile name, null elsewhere
  Bytes status;              // status events: sent|delivered|read|played|failed
  bool hasErrorCode = false;
  std::int64_t errorCode = 0;  // failed status / unsupported / account error code
  Bytes errorMessage;
  Bytes extraJson;           // compact JSON object with per-kind details; "{}" when none
  Bytes rawJson;             // the platform's JSON for this event (always set; kept for replay)
};

// Implemented by the core. parseWebhook calls onEvent once per event, in payload order.
class EventSink {
 public:
  virtual void onEvent(const Event& event) noexcept = 0;

 protected:
  ~EventSink() = default;
};

// ---- Outbound ----

enum class SendKind : std::uint32_t { kText, kTemplate, kAttachment };

// A message the core wants sent. Borrowed for the duration of buildSend.
struct OutboundMessage {
  SendKind kind = SendKind::kText;
  Bytes messageId;          // gateway message id (for logs)
  Bytes recipientId;        // the person's external id on this platform
  Bytes recipientIdKind;    // "wa_id" | "bsuid" | "psid" | "igsid"
  Bytes text;               // kText
  Bytes templateJson;       // kTemplate: {"name","language","components"} as the CRM gave it
  Bytes attachmentType;     // kAttachment: image|audio|video|document|file
  Bytes attachmentUrl;
  Bytes attachmentCaption;
  Bytes replyToExternalId;  // external id of the quoted message, or null
  Bytes tag;                // "HUMAN_AGENT" or null
};

// Implemented by the core: collects the HTTP request a plugin builds.
class RequestWriter {
 public:
  virtual void setMethod(Bytes method) noexcept = 0;
  // Path and query appended to the channel's graph_base_url, e.g. "/v21.0/1234/messages".
  virtual void setPath(Bytes pathAndQuery) noexcept = 0;
  virtual void addHeader(Bytes name, Bytes value) noexcept = 0;
  virtual void setBody(Bytes body) noexcept = 0;

 protected:
  ~RequestWriter() = default;
};

enum class SendErrorClass : std::uint32_t {
  kTransient,    // retry with backoff (5xx, is_transient, temporary errors)
  kRateLimited,  // retry later, slower (4, 17, 32, 613, 80007, 130429, 131056)
  kPermanent,    // never retry (bad recipient, window closed at the platform, bad params)
  kAuth,         // token problem (190): permanent for this message, alert the operator
};

// Implemented by the core: receives the interpretation of a Send API response.
class SendResult {
 public:
  virtual void accepted(Bytes externalMessageId) noexcept = 0;
  virtual void failed(SendErrorClass errorClass, std::int64_t platformCode,
                      std::int64_t platformSubcode, Bytes message) noexcept = 0;

 protected:
  ~SendResult() = default;
};

// ---- The channel ----

// Implemented by the plugin, driven by the core. Created once per configured channel
// (again on SIGHUP); destroyed only through Descriptor::destroy.
class Channel {
 public:
  // kOk when X-Hub-Signature-256 is the HMAC of the raw body with this channel's app secret;
  // kRejected when missing or wrong. Must compare in constant time.
  virtual Outcome verifySignature(const HttpView& request) noexcept = 0;
  // Emit every event of a verified POST body. kMalformed: not JSON or wrong shape;
  // kUnsupported: valid JSON for another `object`. Events emitted before a failure stand.
  virtual Outcome parseWebhook(const HttpView& request, EventSink& out) noexcept = 0;
  // Build the Send API request for msg. kUnsupported when the platform cannot carry it.
  virtual Outcome buildSend(const OutboundMessage& msg, RequestWriter& out) noexcept = 0;
  // Interpret the platform's answer to a request built by buildSend.
  virtual Outcome readSendResult(int httpStatus, Bytes body, SendResult& out) noexcept = 0;

 protected:
  ~Channel() = default;
};

// Static facts about a platform that the core's rules need; no logic.
struct ChannelTraits {
  const char* userIdKind;           // identity kind of the person on this platform
  std::int64_t windowSeconds;       // customer-service window after the last inbound message
  std::int64_t tagWindowSeconds;    // window for a HUMAN_AGENT-tagged message; 0 = no tag
  bool templatesIgnoreWindow;       // WhatsApp templates may be sent any time
  bool canStartFromPhone;           // a conversation can be opened with only a phone number
};

// Static data returned by the entry symbol; reading it executes no plugin logic.
struct Descriptor {
  std::uint32_t apiVersion;    // GATEWAY_CHANNEL_API_VERSION when the plugin was built
  const char* buildSignature;  // GATEWAY_BUILD_SIGNATURE when the plugin was built
  const char* type;            // "whatsapp"
  const ChannelTraits* traits;
  // Returns a new Channel or nullptr with a reason in err (NUL-terminated, at most cap bytes).
  Channel* (*create)(const HostApi* host, const ChannelSettings* settings, char* err,
                     std::size_t cap) noexcept;
  void (*destroy)(Channel* channel) noexcept;
};

// Runs body, turning any exception into kInternal with a log line. For plugin entry points.
template <class Body>
Outcome guarded(const HostApi* host, Body&& body) noexcept {
  // Logged inside each handler: e.what() dies with the exception object.
  auto report = [host](const char* what) noexcept {
    if (host != nullptr && host->log != nullptr) host->log(host->ctx, LogLevel::kError, bytesOf(what));
  };
  try {
    return body();
  } catch (const std::exception& e) {
    report(e.what());
  } catch (...) {
    report("unknown exception");
  }
  return Outcome::kInternal;
}

// Copies a NUL-terminated message into a create() error buffer.
inline void writeError(char* err, std::size_t cap, const char* message) noexcept {
  if (err == nullptr || cap == 0) return;
  std::size_t n = std::strlen(message);
  if (n >= cap) n = cap - 1;
  std::memcpy(err, message, n);
  err[n] = '\0';
}

}  // namespace v1
}  // namespace gateway::channel_api

extern "C" GATEWAY_PLUGIN_EXPORT const gateway::channel_api::Descriptor*
gateway_channel_descriptor() noexcept;
