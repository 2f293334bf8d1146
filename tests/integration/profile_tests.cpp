// The contact profile API against the real binary: create, edit, typed properties, block,
// merge, tags, notes, the activity listing, auth, bad input and concurrent edits. The field
// checks (phone, email, date, body parsing) are also tested in-process.
#include <atomic>
#include <csignal>
#include <functional>
#include <ctime>
#include <set>
#include <thread>

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crm/profile.h"
#include "test_support.h"
#include "util/json.h"

namespace gt = gateway::testing;
using gt::str;
// Keeps the members' order, so stored property order can be checked.
const auto parse = gt::parseObject;
namespace crm = gateway::crm;
using Poco::JSON::Array;
using Poco::JSON::Object;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> jsonAuth() {
  auto h = gt::authHeader();
  h["Content-Type"] = "application/json";
  return h;
}

// One API call; the parsed body (an empty object when it is not JSON).
struct Reply {
  int status = 0;
  std::string body;
  Object::Ptr json;
  std::string errorCode() const {
    if (!json || !json->has("error")) return "<none>";
    return json->getObject("error")->getValue<std::string>("code");
  }
  std::string errorMessage() const {
    if (!json || !json->has("error")) return "<none>";
    return json->getObject("error")->getValue<std::string>("message");
  }
};

Reply call(gt::RunningGateway& gw, const std::string& method, const std::string& path, const std::string& body = "",
           const std::map<std::string, std::string>& headers = jsonAuth()) {
  const gt::HttpResult r = gt::httpRequest(gw.port(), method, path, headers, body);
  Reply out;
  out.status = r.status;
  out.body = r.body;
  try {
    out.json = parse(r.body);
  } catch (...) {
    out.json = new Object;
  }
  return out;
}

Object::Ptr contactOf(const Reply& r) { return r.json->getObject("contact"); }

std::string createContact(gt::RunningGateway& gw, const std::string& body) {
  const Reply r = call(gw, "POST", "/v1/contacts", body);
  EXPECT_EQ(r.status, 201) << r.body;
  return r.status == 201 ? str(contactOf(r), "id") : "";
}

// A signed WhatsApp text message from wa_id, sent `agoS` seconds ago.
gt::HttpResult whatsappText(gt::RunningGateway& gw, const std::string& waId, const std::string& name,
                            const std::string& messageId, const std::string& text, int agoS = 60) {
  const std::string ts = std::to_string(std::time(nullptr) - agoS);
  const std::string body =
      R"({"object":"whatsapp_business_account","entry":[{"id":"100200300400501","changes":[{"value":{)"
      R"("messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100100","phone_number_id":"110220330440551"},)"
      R"("contacts":[{"profile":{"name":")" + name + R"("},"wa_id":")" + waId + R"("}],)"
      R"("messages":[{"from":")" + waId + R"(","id":")" + messageId + R"(","timestamp":")" + ts +
      R"(","type":"text","text":{"body":")" + text + R"("}}]},"field":"messages"}]}]})";
  return gw.post("/webhooks/whatsapp", body, gt::signedHeaders(body));
}

// A signed Messenger text message from psid.
gt::HttpResult messengerText(gt::RunningGateway& gw, const std::string& psid, const std::string& mid,
                             const std::string& text) {
  const std::string ms = std::to_string(static_cast<long long>(std::time(nullptr)) * 1000 - 30000);
  const std::string body = R"({"object":"page","entry":[{"id":"104050607080901","time":)" + ms +
                           R"(,"messaging":[{"sender":{"id":")" + psid +
                           R"("},"recipient":{"id":"104050607080901"},"timestamp":)" + ms +
                           R"(,"message":{"mid":")" + mid + R"(","text":")" + text + R"("}}]}]})";
  return gw.post("/webhooks/messenger", body, gt::signedHeaders(body));
}

// The contact that owns an identity, found through the list.
Object::Ptr contactByIdentity(gt::RunningGateway& gw, const std::string& channelId, const std::string& externalId) {
  const Reply r = call(gw, "GET", "/v1/contacts?limit=200");
  const Array::Ptr contacts = r.json->getArray("contacts");
  for (std::size_t i = 0; contacts && i < contacts->size(); ++i) {
    const Object::Ptr c = contacts->getObject(static_cast<unsigned>(i));
    const Array::Ptr ids = c->getArray("identities");
    for (std::size_t k = 0; k < ids->size(); ++k) {
      const Object::Ptr id = ids->getObject(static_cast<unsigned>(k));
      if (str(id, "channel_id") == channelId && str(id, "external_id") == externalId) return c;
    }
  }
  ADD_FAILURE() << "no contact for " << channelId << "/" << externalId;
  return new Object;
}

std::string firstConversationId(const Object::Ptr& contact) {
  const Array::Ptr conversations = contact->getArray("conversations");
  return conversations && conversations->size() > 0 ? str(conversations->getObject(0), "id") : "";
}

std::vector<Object::Ptr> messagesOf(gt::RunningGateway& gw, const std::string& conversationId,
                                    const std::string& query = "") {
  const Reply r = call(gw, "GET", "/v1/conversations/" + conversationId + "/messages?limit=200" + query);
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<Object::Ptr> out;
  const Array::Ptr messages = r.json->getArray("messages");
  for (std::size_t i = 0; messages && i < messages->size(); ++i) out.push_back(messages->getObject(static_cast<unsigned>(i)));
  return out;
}

std::vector<Object::Ptr> allEvents(gt::RunningGateway& gw) {
  const Reply r = call(gw, "GET", "/v1/events?after=0&limit=1000");
  std::vector<Object::Ptr> out;
  const Array::Ptr events = r.json->getArray("events");
  for (std::size_t i = 0; events && i < events->size(); ++i) out.push_back(events->getObject(static_cast<unsigned>(i)));
  return out;
}

std::vector<Object::Ptr> eventsOfType(gt::RunningGateway& gw, const std::string& type) {
  std::vector<Object::Ptr> out;
  for (const Object::Ptr& e : allEvents(gw)) {
    if (str(e, "type") == type) out.push_back(e);
  }
  return out;
}

std::string properties(const Object::Ptr& contact) {
  std::ostringstream out;
  contact->getObject("properties")->stringify(out);
  return out.str();
}

const char* kMoreProperties =
    "  - { key: seats, label: Seats, type: number }\n"
    "  - { key: vip, label: VIP, type: boolean }\n"
    "  - { key: renewal, label: Renewal, type: date }\n";

gt::TestConfig withProperties() {
  gt::TestConfig c;
  c.extraYaml = kMoreProperties;
  return c;
}

}  // namespace

// --- In-process: the field checks --------------------------------------------------------

TEST(ProfileFields, PhonesAreNormalizedToE164) {
  EXPECT_EQ(crm::normalizePhone("+49 30 1234567").value_or("-"), "+49301234567");
  EXPECT_EQ(crm::normalizePhone(" +1 (555) 010-0201 ").value_or("-"), "+15550100201");
  EXPECT_EQ(crm::normalizePhone("0049.30.1234567").value_or("-"), "+49301234567");
  EXPECT_EQ(crm::normalizePhone("+44 (0)20 7946 0958").value_or("-"), "+442079460958");
  EXPECT_EQ(crm::normalizePhone("+351/912 345 678").value_or("-"), "+351912345678");
  for (const char* bad : {"", "+", "030 1234567", "15550100201", "+0 555 0100", "+49 30 12x4567", "+1234",
                          "+1234567890123456", "phone", "+49 30 1234567 ext 5"}) {
    EXPECT_FALSE(crm::normalizePhone(bad)) << bad;
  }
}

TEST(ProfileFields, EmailsAreChecked) {
  for (const char* good : {"ana@example.com", "a.b+tag@mail.example.co.uk", "x_y@sub-domain.example.org"}) {
    EXPECT_TRUE(crm::isValidEmail(good)) << good;
  }
  for (const char* bad : {"", "ana", "ana@", "@example.com", "ana@example", "ana@@example.com", "an a@example.com",
                          "ana@exa mple.com", ".ana@example.com", "ana..b@example.com", "ana@-example.com",
                          "ana@example..com", "a@b@example.com"}) {
    EXPECT_FALSE(crm::isValidEmail(bad)) << bad;
  }
}

TEST(ProfileFields, DatesAreRealCalendarDays) {
  for (const char* good : {"2026-11-25", "2024-02-29", "2000-02-29", "1999-12-31"}) EXPECT_TRUE(crm::isValidDate(good)) << good;
  for (const char* bad : {"2026-13-01", "2026-02-29", "1900-02-29", "2026-04-31", "2026-1-05", "26-11-25",
                          "2026/11/25", "2026-11-25T00:00:00Z", "", "0000-01-01", "2026-00-10"}) {
    EXPECT_FALSE(crm::isValidDate(bad)) << bad;
  }
}

TEST(ProfileFields, EditBodiesNameTheBadField) {
  auto parse = [](const std::string& json, crm::ContactEdit& edit) {
    rapidjson::Document doc;
    EXPECT_TRUE(gateway::util::parseJson(json, doc)) << json;
    return crm::parseContactEdit(doc, edit);
  };
  crm::ContactEdit edit;
  EXPECT_FALSE(parse(R"({"name":"  Ana  ","phone":"+49 30 1234567","email":"Ana@Example.COM","company":""})", edit));
  EXPECT_EQ(edit.name->value_or("-"), "Ana");
  EXPECT_EQ(edit.phone->value_or("-"), "+49301234567");
  EXPECT_EQ(edit.email->value_or("-"), "Ana@example.com");
  ASSERT_TRUE(edit.company);
  EXPECT_FALSE(*edit.company);  // "" clears, like null
  EXPECT_FALSE(edit.blocked);

  const std::vector<std::pair<std::string, std::string>> bad{
      {R"({"name":5})", "name"},           {R"({"phone":true})", "phone"},
      {R"({"phone":"12345"})", "phone"},   {R"({"email":"nope"})", "email"},
      {R"({"company":[]})", "company"},    {R"({"blocked":"yes"})", "blocked"},
      {R"({"properties":[]})", "properties"}, {R"({"nmae":"Ana"})", "nmae"},
      {R"([1,2])", "object"}};
  for (const auto& [json, field] : bad) {
    crm::ContactEdit e;
    const crm::MaybeError error = parse(json, e);
    ASSERT_TRUE(error) << json;
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->code, "invalid_request");
    EXPECT_THAT(error->message, HasSubstr(field)) << json;
  }
}

// --- Contacts ------------------------------------------------------------------------------

TEST(Profile, CreateReturnsTheContractShapeAndEmitsContactCreated) {
  gt::RunningGateway gw;
  const Reply r = call(gw, "POST", "/v1/contacts",
                       R"({"name":"Ana Lima","phone":"+351 912 345 678","email":"ana@example.com","company":"Acme"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const Object::Ptr c = contactOf(r);
  EXPECT_THAT(str(c, "id"), ::testing::StartsWith("ct_"));
  EXPECT_EQ(str(c, "name"), "Ana Lima");
  EXPECT_EQ(str(c, "phone"), "+351912345678");
  EXPECT_EQ(str(c, "email"), "ana@example.com");
  EXPECT_EQ(str(c, "company"), "Acme");
  EXPECT_FALSE(c->getValue<bool>("blocked"));
  EXPECT_EQ(properties(c), "{}");
  EXPECT_EQ(c->getArray("identities")->size(), 0u);
  EXPECT_EQ(c->getArray("conversations")->size(), 0u);
  EXPECT_TRUE(c->isNull("default_conversation_id"));
  EXPECT_THAT(str(c, "created_at"), ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z"));

  const Reply got = call(gw, "GET", "/v1/contacts/" + str(c, "id"));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(str(contactOf(got), "created_at"), str(c, "created_at"));
  EXPECT_EQ(str(contactOf(got), "phone"), "+351912345678");

  const auto created = eventsOfType(gw, "contact.created");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(str(created[0]->getObject("data"), "id"), str(c, "id"));

  // Only a company is enough; properties may be set on create.
  const Reply onlyCompany = call(gw, "POST", "/v1/contacts", R"({"company":"Globex","properties":{"plan":"pro"}})");
  ASSERT_EQ(onlyCompany.status, 201) << onlyCompany.body;
  EXPECT_EQ(properties(contactOf(onlyCompany)), R"({"plan":"pro"})");
  EXPECT_TRUE(contactOf(onlyCompany)->isNull("name"));
}

TEST(Profile, CreateRefusesBadInputNamingTheField) {
  gt::RunningGateway gw;
  const std::vector<std::tuple<std::string, int, std::string, std::string>> cases{
      {"", 400, "invalid_request", "JSON object"},
      {"{\"name\":", 400, "invalid_request", "not valid JSON"},
      {"[]", 400, "invalid_request", "JSON object"},
      {"\"Ana\"", 400, "invalid_request", "JSON object"},
      {"{}", 400, "invalid_request", "at least one of"},
      {R"({"name":null,"phone":null})", 400, "invalid_request", "at least one of"},
      {R"({"name":42})", 400, "invalid_request", "name"},
      {R"({"name":"Ana","phone":"030 1234567"})", 400, "invalid_request", "phone"},
      {R"({"name":"Ana","phone":15550100201})", 400, "invalid_request", "phone"},
      {R"({"name":"Ana","email":"ana(at)example.com"})", 400, "invalid_request", "email"},
      {R"({"name":"Ana","blocked":1})", 400, "invalid_request", "blocked"},
      {R"({"name":"Ana","id":"ct_mine"})", 400, "invalid_request", "unknown field id"},
      {R"({"name":"Ana","properties":{"plan":7}})", 422, "invalid_property", "plan"},
      {R"({"name":"Ana","properties":{"colour":"red"}})", 422, "unknown_property", "colour"},
      {R"({"name":")" + std::string(300, 'x') + R"("})", 400, "invalid_request", "name"},
  };
  for (const auto& [body, status, code, mention] : cases) {
    const Reply r = call(gw, "POST", "/v1/contacts", body);
    EXPECT_EQ(r.status, status) << body << " -> " << r.body;
    EXPECT_EQ(r.errorCode(), code) << body;
    EXPECT_THAT(r.errorMessage(), HasSubstr(mention)) << body;
  }
  // Nothing was created by any of them.
  EXPECT_EQ(call(gw, "GET", "/v1/contacts").json->getArray("contacts")->size(), 0u);
  EXPECT_TRUE(eventsOfType(gw, "contact.created").empty());
}

TEST(Profile, EveryProfileRouteNeedsAValidToken) {
  gt::RunningGateway gw;
  const std::string id = createContact(gw, R"({"name":"Ana"})");
  const std::vector<std::tuple<std::string, std::string, std::string>> routes{
      {"POST", "/v1/contacts", R"({"name":"Eve"})"},
      {"PATCH", "/v1/contacts/" + id, R"({"name":"Eve"})"},
      {"POST", "/v1/contacts/" + id + "/merge", R"({"from":"ct_x"})"},
      {"PUT", "/v1/conversations/cv_x/tags", R"({"tags":[]})"},
      {"POST", "/v1/conversations/cv_x/notes", R"({"text":"hi"})"},
  };
  for (const auto& [method, path, body] : routes) {
    const std::map<std::string, std::string> none{{"Content-Type", "application/json"}};
    const std::map<std::string, std::string> wrong{{"Authorization", "Bearer not-the-token"}};
    const std::map<std::string, std::string> basic{{"Authorization", "Basic dGVzdDp0ZXN0"}};
    for (const auto& headers : {none, wrong, basic}) {
      const Reply r = call(gw, method, path, body, headers);
      EXPECT_EQ(r.status, 401) << method << " " << path;
      EXPECT_EQ(r.errorCode(), "unauthorized");
    }
  }
  EXPECT_EQ(str(contactOf(call(gw, "GET", "/v1/contacts/" + id)), "name"), "Ana");
}

TEST(Profile, UnknownIdsAnswer404) {
  gt::RunningGateway gw;
  const std::string id = createContact(gw, R"({"name":"Ana"})");
  const std::vector<std::tuple<std::string, std::string, std::string>> routes{
      {"PATCH", "/v1/contacts/ct_missing", R"({"name":"Eve"})"},
      {"GET", "/v1/contacts/ct_missing", ""},
      {"POST", "/v1/contacts/ct_missing/merge", R"({"from":")" + id + R"("})"},
      {"POST", "/v1/contacts/" + id + "/merge", R"({"from":"ct_missing"})"},
      {"PUT", "/v1/conversations/cv_missing/tags", R"({"tags":["a"]})"},
      {"POST", "/v1/conversations/cv_missing/notes", R"({"text":"hi"})"},
  };
  for (const auto& [method, path, body] : routes) {
    const Reply r = call(gw, method, path, body);
    EXPECT_EQ(r.status, 404) << method << " " << path << " " << r.body;
    EXPECT_EQ(r.errorCode(), "not_found");
  }
  // A method the path does not have.
  EXPECT_EQ(call(gw, "DELETE", "/v1/contacts/" + id).status, 405);
}

TEST(Profile, OversizedBodiesGet413) {
  gt::TestConfig config;
  config.maxBodyBytes = 2048;
  gt::RunningGateway gw(config);
  const std::string id = createContact(gw, R"({"name":"Ana"})");
  const std::string big = R"({"name":")" + std::string(4096, 'x') + R"("})";
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/contacts"}, {"PATCH", "/v1/contacts/" + id}, {"POST", "/v1/conversations/cv_x/notes"}}) {
    const Reply r = call(gw, method, path, big);
    EXPECT_EQ(r.status, 413) << method << " " << path;
    EXPECT_EQ(r.errorCode(), "payload_too_large");
  }
  EXPECT_EQ(str(contactOf(call(gw, "GET", "/v1/contacts/" + id)), "name"), "Ana");
}

TEST(Profile, PatchChangesOnlyWhatIsSentAndNullClears) {
  gt::RunningGateway gw;
  const std::string id = createContact(gw, R"({"name":"Ana","email":"ana@example.com","company":"Acme"})");
  const std::string path = "/v1/contacts/" + id;

  Reply r = call(gw, "PATCH", path, R"({"phone":"+49 (30) 123-4567","company":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  Object::Ptr c = contactOf(r);
  EXPECT_EQ(str(c, "name"), "Ana");
  EXPECT_EQ(str(c, "email"), "ana@example.com");
  EXPECT_EQ(str(c, "phone"), "+49301234567");
  EXPECT_TRUE(c->isNull("company"));
  EXPECT_EQ(contactOf(call(gw, "GET", path))->getValue<std::string>("phone"), "+49301234567");

  const auto updated = eventsOfType(gw, "contact.updated");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(str(updated[0]->getObject("data"), "phone"), "+49301234567");

  // Sending the same values again changes nothing and records nothing.
  r = call(gw, "PATCH", path, R"({"phone":"+49301234567","name":"Ana"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(eventsOfType(gw, "contact.updated").size(), 1u);
  EXPECT_EQ(call(gw, "PATCH", path, "{}").status, 200);

  // Bad values are refused, naming the field, and change nothing.
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"email":"ana@"})", "email"}, {R"({"phone":"555-0101"})", "phone"}, {R"({"name":{"first":"A"}})", "name"},
           {R"({"blocked":null})", "blocked"}, {"{\"name\":\"A\"", "JSON"}, {"null", "object"}}) {
    r = call(gw, "PATCH", path, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.errorCode(), "invalid_request");
    EXPECT_THAT(r.errorMessage(), HasSubstr(field)) << body;
  }
  c = contactOf(call(gw, "GET", path));
  EXPECT_EQ(str(c, "email"), "ana@example.com");
  EXPECT_EQ(str(c, "phone"), "+49301234567");
}

TEST(Profile, PropertiesAreTypeCheckedAndNullClears) {
  gt::RunningGateway gw(withProperties());
  const std::string id = createContact(gw, R"({"name":"Ana"})");
  const std::string path = "/v1/contacts/" + id;

  Reply r = call(gw, "PATCH", path,
                 R"({"properties":{"plan":"gold","seats":12,"vip":true,"renewal":"2027-02-28"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(properties(contactOf(r)), R"({"plan":"gold","seats":12,"vip":true,"renewal":"2027-02-28"})");

  // Merged key by key; a fractional number is a number too.
  r = call(gw, "PATCH", path, R"({"properties":{"seats":2.5}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(properties(contactOf(r)), R"({"plan":"gold","seats":2.5,"vip":true,"renewal":"2027-02-28"})");

  const std::vector<std::tuple<std::string, std::string, std::string>> bad{
      {R"({"properties":{"seats":"12"}})", "invalid_property", "seats"},
      {R"({"properties":{"vip":"true"}})", "invalid_property", "vip"},
      {R"({"properties":{"vip":1}})", "invalid_property", "vip"},
      {R"({"properties":{"renewal":"2027-02-30"}})", "invalid_property", "renewal"},
      {R"({"properties":{"renewal":"28.02.2027"}})", "invalid_property", "renewal"},
      {R"({"properties":{"plan":["a"]}})", "invalid_property", "plan"},
      {R"({"properties":{"plan":"gold","tier":"x"}})", "unknown_property", "tier"},
      {R"({"properties":{"tier":null}})", "unknown_property", "tier"},
  };
  for (const auto& [body, code, key] : bad) {
    r = call(gw, "PATCH", path, body);
    EXPECT_EQ(r.status, 422) << body << " " << r.body;
    EXPECT_EQ(r.errorCode(), code) << body;
    EXPECT_THAT(r.errorMessage(), HasSubstr(key)) << body;
  }
  // Nothing of a refused request was applied (plan stayed gold although it came first).
  EXPECT_EQ(properties(contactOf(call(gw, "GET", path))),
            R"({"plan":"gold","seats":2.5,"vip":true,"renewal":"2027-02-28"})");

  r = call(gw, "PATCH", path, R"({"properties":{"vip":null,"seats":null}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(properties(contactOf(r)), R"({"plan":"gold","renewal":"2027-02-28"})");
}

TEST(Profile, SighupChangesPropertyDefinitionsForLaterWritesOnly) {
  gt::RunningGateway gw(withProperties());
  const std::string path = "/v1/contacts/" + createContact(gw, R"({"name":"Ana"})");
  ASSERT_EQ(call(gw, "PATCH", path, R"({"properties":{"plan":"gold","seats":3}})").status, 200);
  ASSERT_EQ(call(gw, "PATCH", path, R"({"properties":{"seats":"three"}})").status, 422);

  // New definitions: seats becomes text, tier appears, plan... stays; vip and renewal go.
  gt::TestConfig next;
  next.extraYaml = "  - { key: seats, label: Seats, type: text }\n  - { key: tier, label: Tier, type: number }\n";
  gw.rewriteConfig(next);
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(gt::waitFor([&] { return call(gw, "PATCH", path, R"({"properties":{"tier":1}})").status == 200; }, 10s));

  // Stored values are untouched by the reload.
  Object::Ptr c = contactOf(call(gw, "GET", path));
  EXPECT_EQ(properties(c), R"({"plan":"gold","seats":3,"tier":1})");
  // Later writes follow the new definitions.
  EXPECT_EQ(call(gw, "PATCH", path, R"({"properties":{"seats":"three"}})").status, 200);
  Reply r = call(gw, "PATCH", path, R"({"properties":{"vip":true}})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.errorCode(), "unknown_property");
  EXPECT_EQ(properties(contactOf(call(gw, "GET", path))), R"({"plan":"gold","seats":"three","tier":1})");
}

TEST(Profile, ClearingAValueWhoseDefinitionWasRemovedIsAllowed) {
  gt::RunningGateway gw(withProperties());
  const std::string path = "/v1/contacts/" + createContact(gw, R"({"name":"Ana"})");
  ASSERT_EQ(call(gw, "PATCH", path, R"({"properties":{"vip":true}})").status, 200);
  gw.rewriteConfig(gt::TestConfig{});
  gw.process().signal(SIGHUP);
  const std::string probe = "/v1/contacts/" + createContact(gw, R"({"name":"Probe"})");
  ASSERT_TRUE(gt::waitFor([&] { return call(gw, "PATCH", probe, R"({"properties":{"vip":false}})").status == 422; }, 10s));
  EXPECT_EQ(call(gw, "PATCH", path, R"({"properties":{"vip":false}})").status, 422);
  EXPECT_EQ(properties(contactOf(call(gw, "GET", path))), R"({"vip":true})");
  const Reply r = call(gw, "PATCH", path, R"({"properties":{"vip":null}})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(properties(contactOf(r)), "{}");
}

TEST(Profile, ConversationsFollowChannelOrderAndTheDefaultSkipsDisabledChannels) {
  gt::RunningGateway gw;
  // Two people who are one: a Messenger user and a WhatsApp user, merged.
  ASSERT_EQ(messengerText(gw, "7000000000000001", "m_order_1", "hello").status, 200);
  ASSERT_EQ(whatsappText(gw, "15550000001", "Ana", "wamid.order1", "hi").status, 200);
  const std::string fb = str(contactByIdentity(gw, "fb-main", "7000000000000001"), "id");
  const std::string wa = str(contactByIdentity(gw, "wa-main", "15550000001"), "id");
  const Reply merged = call(gw, "POST", "/v1/contacts/" + fb + "/merge", R"({"from":")" + wa + R"("})");
  ASSERT_EQ(merged.status, 200) << merged.body;
  Object::Ptr c = contactOf(merged);
  Array::Ptr conversations = c->getArray("conversations");
  ASSERT_EQ(conversations->size(), 2u);
  EXPECT_EQ(str(conversations->getObject(0), "channel_id"), "wa-main");  // config order, not age
  EXPECT_EQ(str(conversations->getObject(1), "channel_id"), "fb-main");
  EXPECT_EQ(str(c, "default_conversation_id"), str(conversations->getObject(0), "id"));

  gt::TestConfig next;
  next.whatsappEnabled = false;
  gw.rewriteConfig(next);
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(gt::waitFor(
      [&] { return !call(gw, "GET", "/v1/channels").json->getArray("channels")->getObject(0)->getValue<bool>("enabled"); },
      10s));
  c = contactOf(call(gw, "GET", "/v1/contacts/" + fb));
  conversations = c->getArray("conversations");
  EXPECT_EQ(str(conversations->getObject(0), "channel_id"), "wa-main");
  EXPECT_EQ(str(conversations->getObject(0), "reason"), "channel_disabled");
  EXPECT_EQ(str(c, "default_conversation_id"), str(conversations->getObject(1), "id"));

  next.messengerEnabled = false;
  gw.rewriteConfig(next);
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(gt::waitFor(
      [&] { return contactOf(call(gw, "GET", "/v1/contacts/" + fb))->isNull("default_conversation_id"); }, 10s));
}

TEST(Profile, BlockAndUnblockAreRecordedInTheActivity) {
  gt::RunningGateway gw;
  ASSERT_EQ(whatsappText(gw, "15550000002", "Bo", "wamid.block1", "hi").status, 200);
  const Object::Ptr contact = contactByIdentity(gw, "wa-main", "15550000002");
  const std::string path = "/v1/contacts/" + str(contact, "id");
  const std::string conversation = firstConversationId(contact);
  EXPECT_TRUE(contact->getArray("conversations")->getObject(0)->getValue<bool>("can_send"));

  Reply r = call(gw, "PATCH", path, R"({"blocked":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(contactOf(r)->getValue<bool>("blocked"));
  const Object::Ptr conv = call(gw, "GET", "/v1/conversations/" + conversation).json->getObject("conversation");
  EXPECT_FALSE(conv->getValue<bool>("can_send"));
  EXPECT_EQ(str(conv, "reason"), "contact_blocked");

  // Newest first; the oldest system message is the conversation's "Conversation started".
  auto system = messagesOf(gw, conversation, "&kind=system");
  ASSERT_EQ(system.size(), 2u);
  EXPECT_EQ(str(system[1], "type"), "conversation_started");
  EXPECT_EQ(str(system[0], "type"), "contact_blocked");
  EXPECT_EQ(str(system[0], "kind"), "system");
  EXPECT_EQ(str(system[0], "text"), "Contact blocked");

  // Blocking again is no change: no second system message.
  ASSERT_EQ(call(gw, "PATCH", path, R"({"blocked":true})").status, 200);
  EXPECT_EQ(messagesOf(gw, conversation, "&kind=system").size(), 2u);

  // While blocked, inbound is stored but suppressed (ingest) and the block stays visible.
  ASSERT_EQ(whatsappText(gw, "15550000002", "Bo", "wamid.block2", "are you there").status, 200);
  EXPECT_EQ(messagesOf(gw, conversation, "&kind=message").size(), 1u);
  EXPECT_EQ(messagesOf(gw, conversation, "&kind=message&include_suppressed=true").size(), 2u);

  ASSERT_EQ(call(gw, "PATCH", path, R"({"blocked":false})").status, 200);
  system = messagesOf(gw, conversation, "&kind=system");
  ASSERT_EQ(system.size(), 3u);
  EXPECT_EQ(str(system[0], "type"), "contact_unblocked");  // newest first
  EXPECT_EQ(str(call(gw, "GET", "/v1/conversations/" + conversation).json->getObject("conversation"), "reason"),
            "<null>");

  // Each system message is in the feed.
  int systemEvents = 0;
  for (const auto& e : eventsOfType(gw, "message.created")) systemEvents += str(e->getObject("data"), "kind") == "system";
  EXPECT_EQ(systemEvents, 3);  // started, blocked, unblocked
}

TEST(Profile, APhoneChangeIsRecordedInTheActivity) {
  gt::RunningGateway gw;
  ASSERT_EQ(whatsappText(gw, "15550000003", "Cy", "wamid.phone1", "hi").status, 200);
  const Object::Ptr contact = contactByIdentity(gw, "wa-main", "15550000003");
  EXPECT_EQ(str(contact, "phone"), "+15550000003");
  const Reply r = call(gw, "PATCH", "/v1/contacts/" + str(contact, "id"), R"({"phone":"+1 555 000 0099"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto system = messagesOf(gw, firstConversationId(contact), "&kind=system");
  ASSERT_EQ(system.size(), 2u);  // and "Conversation started"
  EXPECT_EQ(str(system[0], "type"), "phone_changed");
  EXPECT_EQ(str(system[0], "text"), "Phone number changed from +15550000003 to +15550000099");
  EXPECT_EQ(str(system[0]->getObject("extra"), "to"), "+15550000099");
}

// --- Merge ---------------------------------------------------------------------------------

TEST(Profile, MergeMovesIdentitiesConversationsAndProperties) {
  gt::RunningGateway gw(withProperties());
  ASSERT_EQ(whatsappText(gw, "15550000010", "Ana", "wamid.m1", "first", 3600).status, 200);
  ASSERT_EQ(whatsappText(gw, "15550000011", "Ana (work)", "wamid.m2", "second", 120).status, 200);
  ASSERT_EQ(messengerText(gw, "7000000000000011", "m_merge_1", "hello").status, 200);
  const Object::Ptr a = contactByIdentity(gw, "wa-main", "15550000010");
  Object::Ptr b = contactByIdentity(gw, "wa-main", "15550000011");
  const std::string fbOther = str(contactByIdentity(gw, "fb-main", "7000000000000011"), "id");
  const std::string aId = str(a, "id"), bId = str(b, "id");
  // b also has the Messenger conversation.
  ASSERT_EQ(call(gw, "POST", "/v1/contacts/" + bId + "/merge", R"({"from":")" + fbOther + R"("})").status, 200);
  b = contactOf(call(gw, "GET", "/v1/contacts/" + bId));
  ASSERT_EQ(b->getArray("conversations")->size(), 2u);
  const std::string aConv = firstConversationId(a), bWaConv = firstConversationId(b);
  const std::string bFbConv = str(b->getArray("conversations")->getObject(1), "id");

  ASSERT_EQ(call(gw, "PATCH", "/v1/contacts/" + aId,
                 R"({"email":null,"company":"Acme","properties":{"plan":"gold"}})").status, 200);
  ASSERT_EQ(call(gw, "PATCH", "/v1/contacts/" + bId,
                 R"({"email":"ana@work.example","company":"Other","properties":{"plan":"silver","seats":3}})")
                .status, 200);
  ASSERT_EQ(call(gw, "PUT", "/v1/conversations/" + aConv + "/tags", R"({"tags":["vip"]})").status, 200);
  ASSERT_EQ(call(gw, "PUT", "/v1/conversations/" + bWaConv + "/tags", R"({"tags":["lead","vip"]})").status, 200);
  ASSERT_EQ(call(gw, "POST", "/v1/conversations/" + bWaConv + "/notes", R"({"text":"met at the fair"})").status, 201);
  const std::string bLastInbound = str(b->getArray("conversations")->getObject(0), "last_inbound_at");

  const Reply r = call(gw, "POST", "/v1/contacts/" + aId + "/merge", R"({"from":")" + bId + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  const Object::Ptr s = contactOf(r);
  EXPECT_EQ(str(s, "id"), aId);
  EXPECT_EQ(str(s, "name"), "Ana");                 // survivor's value wins
  EXPECT_EQ(str(s, "company"), "Acme");
  EXPECT_EQ(str(s, "email"), "ana@work.example");  // filled from the other one
  EXPECT_EQ(str(s, "phone"), "+15550000010");
  EXPECT_EQ(properties(s), R"({"plan":"gold","seats":3})");
  std::set<std::string> identities;
  const Array::Ptr ids = s->getArray("identities");
  for (std::size_t i = 0; i < ids->size(); ++i) {
    identities.insert(str(ids->getObject(static_cast<unsigned>(i)), "external_id"));
  }
  EXPECT_EQ(identities, (std::set<std::string>{"15550000010", "15550000011", "7000000000000011"}));

  // One conversation per channel: b's WhatsApp conversation went into a's.
  const Array::Ptr conversations = s->getArray("conversations");
  ASSERT_EQ(conversations->size(), 2u);
  const Object::Ptr wa = conversations->getObject(0);
  EXPECT_EQ(str(wa, "id"), aConv);
  EXPECT_EQ(str(wa, "last_inbound_at"), bLastInbound);  // the newest inbound of both
  std::vector<std::string> tags;
  for (std::size_t i = 0; i < wa->getArray("tags")->size(); ++i) tags.push_back(wa->getArray("tags")->getElement<std::string>(static_cast<unsigned>(i)));
  EXPECT_EQ(tags, (std::vector<std::string>{"vip", "lead"}));
  EXPECT_EQ(str(conversations->getObject(1), "id"), bFbConv);
  EXPECT_EQ(str(conversations->getObject(1), "contact_id"), aId);

  // Messages and notes of b's conversation are in a's activity now, with a's ids.
  std::set<std::string> texts;
  for (const auto& m : messagesOf(gw, aConv)) {
    texts.insert(str(m, "text"));
    EXPECT_EQ(str(m, "contact_id"), aId);
    EXPECT_EQ(str(m, "conversation_id"), aConv);
  }
  EXPECT_TRUE(texts.count("first") && texts.count("second") && texts.count("met at the fair"));
  EXPECT_EQ(messagesOf(gw, aConv, "&kind=system").front()->getValue<std::string>("type"), "contact_merged");
  for (const auto& m : messagesOf(gw, bFbConv, "&kind=message")) EXPECT_EQ(str(m, "contact_id"), aId);

  // The other one is gone, and so is its emptied conversation.
  EXPECT_EQ(call(gw, "GET", "/v1/contacts/" + bId).status, 404);
  EXPECT_EQ(call(gw, "PATCH", "/v1/contacts/" + bId, R"({"name":"x"})").status, 404);
  EXPECT_EQ(call(gw, "GET", "/v1/conversations/" + bWaConv).status, 404);
  EXPECT_EQ(call(gw, "POST", "/v1/contacts/" + aId + "/merge", R"({"from":")" + bId + R"("})").status, 404);

  // A later message from b's number lands in the survivor's conversation.
  ASSERT_EQ(whatsappText(gw, "15550000011", "Ana (work)", "wamid.m3", "third", 10).status, 200);
  EXPECT_EQ(messagesOf(gw, aConv, "&kind=message").size(), 3u);
  EXPECT_EQ(call(gw, "GET", "/v1/contacts?limit=200").json->getArray("contacts")->size(), 1u);

  const auto mergedEvents = eventsOfType(gw, "contact.merged");
  ASSERT_EQ(mergedEvents.size(), 2u);
  const Object::Ptr data = mergedEvents.back()->getObject("data");
  EXPECT_EQ(str(data, "merged_from"), bId);
  EXPECT_EQ(str(data->getObject("contact"), "id"), aId);
  ASSERT_EQ(data->getArray("conversations_merged")->size(), 1u);
  EXPECT_EQ(str(data->getArray("conversations_merged")->getObject(0), "from"), bWaConv);
  EXPECT_EQ(str(data->getArray("conversations_merged")->getObject(0), "into"), aConv);
}

TEST(Profile, MergeKeepsABlockAndRefusesBadRequests) {
  gt::RunningGateway gw;
  const std::string a = createContact(gw, R"({"name":"Ana"})");
  const std::string b = createContact(gw, R"({"name":"Bad Ana","phone":"+15550000020"})");
  ASSERT_EQ(call(gw, "PATCH", "/v1/contacts/" + b, R"({"blocked":true})").status, 200);

  const std::vector<std::pair<std::string, std::string>> bad{
      {"", "JSON object"}, {"{", "not valid JSON"}, {"{}", "from is required"}, {R"({"from":5})", "from"},
      {R"({"from":""})", "from"}, {R"({"from":")" + a + R"("})", "another contact"},
      {R"({"from":")" + b + R"(","into":"x"})", "unknown field into"}};
  for (const auto& [body, mention] : bad) {
    const Reply r = call(gw, "POST", "/v1/contacts/" + a + "/merge", body);
    EXPECT_EQ(r.status, 400) << body << " " << r.body;
    EXPECT_EQ(r.errorCode(), "invalid_request");
    EXPECT_THAT(r.errorMessage(), HasSubstr(mention)) << body;
  }
  const Reply r = call(gw, "POST", "/v1/contacts/" + a + "/merge", R"({"from":")" + b + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(contactOf(r)->getValue<bool>("blocked"));
  EXPECT_EQ(str(contactOf(r), "phone"), "+15550000020");
  EXPECT_EQ(call(gw, "GET", "/v1/contacts/" + b).status, 404);
}

// --- Tags and notes ------------------------------------------------------------------------

TEST(Profile, TagsAreReplacedTrimmedAndDeduplicated) {
  gt::RunningGateway gw;
  ASSERT_EQ(whatsappText(gw, "15550000030", "Di", "wamid.tag1", "hi").status, 200);
  const std::string conv = firstConversationId(contactByIdentity(gw, "wa-main", "15550000030"));
  const std::string path = "/v1/conversations/" + conv + "/tags";
  const std::size_t eventsBefore = eventsOfType(gw, "contact.updated").size();

  Reply r = call(gw, "PUT", path, R"({"tags":[" vip ","lead","vip"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::ostringstream tags;
  r.json->getObject("conversation")->getArray("tags")->stringify(tags);
  EXPECT_EQ(tags.str(), R"(["vip","lead"])");
  EXPECT_EQ(str(r.json->getObject("conversation"), "id"), conv);
  std::ostringstream stored;
  call(gw, "GET", "/v1/conversations/" + conv).json->getObject("conversation")->getArray("tags")->stringify(stored);
  EXPECT_EQ(stored.str(), R"(["vip","lead"])");
  const auto updated = eventsOfType(gw, "contact.updated");
  ASSERT_EQ(updated.size(), eventsBefore + 1);  // tag changes are reported as contact.updated
  EXPECT_EQ(call(gw, "PUT", path, R"({"tags":["vip","lead"]})").status, 200);
  EXPECT_EQ(eventsOfType(gw, "contact.updated").size(), eventsBefore + 1);  // unchanged: no event

  std::string many = R"({"tags":[)";
  for (int i = 0; i < 51; ++i) many += (i ? ",\"t" : "\"t") + std::to_string(i) + "\"";
  many += "]}";
  for (const auto& [body, mention] : std::vector<std::pair<std::string, std::string>>{
           {R"({"tags":"vip"})", "array"}, {R"({"tags":["vip",3]})", "tags[1]"}, {R"({"tags":[""]})", "tags[0]"},
           {R"({"tags":[")" + std::string(65, 'x') + R"("]})", "tags[0]"}, {"{}", "tags is required"},
           {R"({"tag":["a"]})", "unknown field tag"}, {"[]", "JSON object"}, {"nope", "JSON"}, {many, "at most 50"}}) {
    r = call(gw, "PUT", path, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.errorCode(), "invalid_request");
    EXPECT_THAT(r.errorMessage(), HasSubstr(mention)) << body;
  }
  r = call(gw, "PUT", path, R"({"tags":[]})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json->getObject("conversation")->getArray("tags")->size(), 0u);
}

TEST(Profile, NotesAreMessagesOfKindNoteAndNeverSent) {
  gt::RunningGateway gw;
  ASSERT_EQ(whatsappText(gw, "15550000040", "Ed", "wamid.note1", "hi").status, 200);
  const Object::Ptr contact = contactByIdentity(gw, "wa-main", "15550000040");
  const std::string conv = firstConversationId(contact);
  const std::string path = "/v1/conversations/" + conv + "/notes";

  const Reply r = call(gw, "POST", path, R"({"text":"Called him, wants the blue one \u2615"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const Object::Ptr note = r.json->getObject("message");
  EXPECT_THAT(str(note, "id"), ::testing::StartsWith("msg_"));
  EXPECT_EQ(str(note, "kind"), "note");
  EXPECT_EQ(str(note, "conversation_id"), conv);
  EXPECT_EQ(str(note, "contact_id"), str(contact, "id"));
  EXPECT_EQ(str(note, "channel_id"), "wa-main");
  EXPECT_EQ(str(note, "text"), "Called him, wants the blue one \xE2\x98\x95");
  EXPECT_EQ(str(note, "status"), "received");
  EXPECT_TRUE(note->isNull("external_id"));
  EXPECT_EQ(str(call(gw, "GET", "/v1/messages/" + str(note, "id")).json->getObject("message"), "kind"), "note");

  EXPECT_EQ(messagesOf(gw, conv, "&kind=note").size(), 1u);
  EXPECT_EQ(messagesOf(gw, conv, "&kind=message").size(), 1u);
  EXPECT_EQ(messagesOf(gw, conv).size(), 3u);  // and "Conversation started"
  // Nothing queued for delivery.
  EXPECT_LE(gw.countRows("outbox"), 0);

  bool inFeed = false;
  for (const auto& e : eventsOfType(gw, "message.created")) inFeed |= str(e->getObject("data"), "id") == str(note, "id");
  EXPECT_TRUE(inFeed);

  for (const auto& [body, mention] : std::vector<std::pair<std::string, std::string>>{
           {"{}", "text is required"}, {R"({"text":""})", "empty"}, {R"({"text":"   "})", "empty"},
           {R"({"text":42})", "text must be a string"}, {R"({"text":"a","pinned":true})", "unknown field pinned"},
           {R"({"text":")" + std::string(10001, 'x') + R"("})", "at most"}, {"", "JSON object"}, {"{]", "JSON"}}) {
    const Reply bad = call(gw, "POST", path, body);
    EXPECT_EQ(bad.status, 400) << body;
    EXPECT_EQ(bad.errorCode(), "invalid_request");
    EXPECT_THAT(bad.errorMessage(), HasSubstr(mention)) << body;
  }
  EXPECT_EQ(messagesOf(gw, conv, "&kind=note").size(), 1u);
}

// --- Listings and pagination ---------------------------------------------------------------

TEST(Profile, ActivityPagesWalkEveryMessageOnceNewestFirst) {
  gt::RunningGateway gw;
  ASSERT_EQ(whatsappText(gw, "15550000050", "Flo", "wamid.page1", "hi", 600).status, 200);
  const std::string conv = firstConversationId(contactByIdentity(gw, "wa-main", "15550000050"));
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(call(gw, "POST", "/v1/conversations/" + conv + "/notes", R"({"text":"note )" + std::to_string(i) + R"("})").status, 201);
  }
  for (const std::string& kind : {std::string(""), std::string("note")}) {
    std::vector<std::string> seen;
    std::string before;
    for (int page = 0; page < 20; ++page) {
      std::string query = "/v1/conversations/" + conv + "/messages?limit=2";
      if (!kind.empty()) query += "&kind=" + kind;
      if (!before.empty()) query += "&before=" + before;
      const Reply r = call(gw, "GET", query);
      ASSERT_EQ(r.status, 200) << r.body;
      const Array::Ptr messages = r.json->getArray("messages");
      EXPECT_LE(messages->size(), 2u);
      for (std::size_t i = 0; i < messages->size(); ++i) seen.push_back(str(messages->getObject(static_cast<unsigned>(i)), "text"));
      if (r.json->isNull("next_cursor")) break;
      before = str(r.json, "next_cursor");
    }
    std::vector<std::string> expected{"note 5", "note 4", "note 3", "note 2", "note 1", "note 0"};
    if (kind.empty()) expected.insert(expected.end(), {"hi", "Conversation started"});
    EXPECT_EQ(seen, expected) << "kind=" << kind;
  }
  const std::string base = "/v1/conversations/" + conv + "/messages";
  EXPECT_EQ(call(gw, "GET", base + "?limit=1").json->getArray("messages")->size(), 1u);
  EXPECT_EQ(call(gw, "GET", base + "?limit=200").json->getArray("messages")->size(), 8u);
  EXPECT_TRUE(call(gw, "GET", base + "?limit=200").json->isNull("next_cursor"));
  for (const char* q : {"?limit=0", "?limit=201", "?limit=-1", "?limit=abc", "?kind=chat", "?before=msg_nope"}) {
    const Reply r = call(gw, "GET", base + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_EQ(r.errorCode(), "invalid_request") << q;
  }
  EXPECT_EQ(call(gw, "GET", "/v1/conversations/cv_nope/messages").status, 404);
}

TEST(Profile, ContactSearchAndCursorPages) {
  gt::RunningGateway gw;
  std::set<std::string> acme;
  for (int i = 0; i < 5; ++i) {
    acme.insert(createContact(gw, R"({"name":"Person )" + std::to_string(i) + R"(","company":"Acme 100%"})"));
  }
  createContact(gw, R"({"name":"Zed","email":"zed@other.example","phone":"+4915112345678"})");

  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (; pages < 10; ++pages) {
    const Reply r = call(gw, "GET", "/v1/contacts?query=acme&limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    const Array::Ptr contacts = r.json->getArray("contacts");
    for (std::size_t i = 0; i < contacts->size(); ++i) {
      EXPECT_TRUE(seen.insert(str(contacts->getObject(static_cast<unsigned>(i)), "id")).second) << "seen twice";
    }
    if (r.json->isNull("next_cursor")) break;
    cursor = str(r.json, "next_cursor");
  }
  EXPECT_EQ(seen, acme);
  EXPECT_EQ(pages, 2);  // 2 + 2 + 1
  auto count = [&](const std::string& query) {
    return call(gw, "GET", "/v1/contacts?" + query).json->getArray("contacts")->size();
  };
  EXPECT_EQ(count("query=100%25"), 5u);  // '%' is text to find, not a wildcard
  EXPECT_EQ(count("query=1%25"), 0u);
  EXPECT_EQ(count("query=zed%40other"), 1u);
  EXPECT_EQ(count("query=%2B49151"), 1u);  // phone
  EXPECT_EQ(count("query=Person%202"), 1u);
  EXPECT_EQ(count("limit=200"), 6u);
  EXPECT_EQ(count("limit=1"), 1u);
  for (const char* q : {"limit=0", "limit=201", "limit=x"}) EXPECT_EQ(call(gw, "GET", std::string("/v1/contacts?") + q).status, 400) << q;
}

// --- Concurrency ---------------------------------------------------------------------------

TEST(Profile, ConcurrentEditsOfOneContactLoseNothing) {
  gt::RunningGateway gw(withProperties());
  const std::string path = "/v1/contacts/" + createContact(gw, R"({"name":"Start"})");
  // Each thread owns one field and writes it repeatedly; the last write of each must stick.
  const std::vector<std::function<std::string(int)>> writers{
      [](int i) { return R"({"name":"Name )" + std::to_string(i) + R"("})"; },
      [](int i) { return R"({"company":"Company )" + std::to_string(i) + R"("})"; },
      [](int i) { return R"({"email":"user)" + std::to_string(i) + R"(@example.com"})"; },
      [](int i) { return R"({"phone":"+1555000)" + std::to_string(1000 + i) + R"("})"; },
      [](int i) { return R"({"properties":{"plan":"p)" + std::to_string(i) + R"("}})"; },
      [](int i) { return R"({"properties":{"seats":)" + std::to_string(i) + "}}"; },
      [](int i) { return R"({"properties":{"vip":)" + std::string(i % 2 ? "true" : "false") + "}}"; },
      [](int i) { return R"({"properties":{"renewal":"2027-01-)" + std::string(i < 10 ? "0" : "") + std::to_string(i) + R"("}})"; },
  };
  constexpr int kRounds = 15;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (const auto& writer : writers) {
    threads.emplace_back([&, writer] {
      for (int i = 1; i <= kRounds; ++i) {
        if (call(gw, "PATCH", path, writer(i)).status != 200) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const Object::Ptr c = contactOf(call(gw, "GET", path));
  EXPECT_EQ(str(c, "name"), "Name 15");
  EXPECT_EQ(str(c, "company"), "Company 15");
  EXPECT_EQ(str(c, "email"), "user15@example.com");
  EXPECT_EQ(str(c, "phone"), "+15550001015");
  const Object::Ptr p = c->getObject("properties");
  EXPECT_EQ(p->size(), 4u);
  EXPECT_EQ(str(p, "plan"), "p15");
  EXPECT_EQ(p->getValue<int>("seats"), 15);
  EXPECT_TRUE(p->getValue<bool>("vip"));
  EXPECT_EQ(str(p, "renewal"), "2027-01-15");
  // Every change was one contact.updated, none lost.
  EXPECT_EQ(eventsOfType(gw, "contact.updated").size(), writers.size() * kRounds);
}
