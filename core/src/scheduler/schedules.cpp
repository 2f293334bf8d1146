#include "scheduler/schedules.h"

#include "crm/repository.h"
#include "delivery/outbox.h"
#include "util/clock.h"
#include "util/json.h"

namespace gateway::scheduler {

using storage::Row;
using storage::Tx;
using storage::Value;

namespace {

constexpr const char* kColumns =
    "id, conversation_id, contact_id, send_at, status, request, text, template, message_id, error, created_at, "
    "updated_at";

Schedule scheduleFrom(const Row& r) {
  Schedule s;
  s.id = r.getText(0);
  s.conversationId = r.getText(1);
  s.contactId = r.getText(2);
  s.sendAt = r.getInt(3);
  s.status = r.getText(4);
  s.request = r.getText(5);
  s.text = r.findText(6);
  s.templateJson = r.findText(7);
  s.messageId = r.findText(8);
  s.error = r.findText(9);
  s.createdAt = r.getInt(10);
  s.updatedAt = r.getInt(11);
  return s;
}

void save(Tx& tx, const Schedule& s) {
  tx.exec("UPDATE scheduled_messages SET status = ?, message_id = ?, error = ?, updated_at = ? WHERE id = ?",
          {s.status, storage::nullable(s.messageId), storage::nullable(s.error), s.updatedAt, s.id});
}

std::int64_t publish(Tx& tx, const Schedule& s, std::int64_t now) {
  return crm::appendEvent(tx, "scheduled_message.updated", now, renderSchedule(s));
}

}  // namespace

std::string renderSchedule(const Schedule& s) {
  util::JsonWriter w;
  w.startObject()
      .field("id", s.id)
      .field("conversation_id", s.conversationId)
      .field("contact_id", s.contactId)
      .field("send_at", util::formatRfc3339(s.sendAt))
      .field("status", s.status)
      .field("text", s.text)
      .key("template").optRaw(s.templateJson)
      .field("message_id", s.messageId)
      .key("error").optRaw(s.error)
      .field("created_at", util::formatRfc3339(s.createdAt))
      .endObject();
  return w.str();
}

std::optional<Schedule> findSchedule(Tx& tx, const std::string& id) {
  const auto row = tx.queryOne(std::string("SELECT ") + kColumns + " FROM scheduled_messages WHERE id = ?", {id});
  if (!row) return std::nullopt;
  return scheduleFrom(*row);
}

void insertSchedule(Tx& tx, const Schedule& s) {
  tx.exec("INSERT INTO scheduled_messages (id, conversation_id, contact_id, send_at, status, request, text, template, "
          "message_id, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {s.id, s.conversationId, s.contactId, s.sendAt, s.status, s.request, storage::nullable(s.text), storage::nullable(s.templateJson),
           storage::nullable(s.messageId), storage::nullable(s.error), s.createdAt, s.updatedAt});
}

std::vector<Schedule> listSchedules(Tx& tx, const char* field, const std::string& id, const std::string& status,
                                    int limit) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM scheduled_messages WHERE " + field + " = ?";
  std::vector<Value> params{id};
  if (!status.empty()) {
    sql += " AND status = ?";
    params.emplace_back(status);
  }
  sql += " ORDER BY send_at, id LIMIT ?";
  params.emplace_back(std::int64_t{limit});
  std::vector<Schedule> out;
  for (const Row& r : tx.query(sql, params)) out.push_back(scheduleFrom(r));
  return out;
}

bool cancelSchedule(Tx& tx, Schedule& s, std::int64_t now, std::int64_t& eventSeq) {
  if (tx.exec("UPDATE scheduled_messages SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'pending'",
              {now, s.id}) == 0) {
    return false;
  }
  s.status = "cancelled";
  s.updatedAt = now;
  eventSeq = publish(tx, s, now);
  return true;
}

Fired fireDue(Tx& tx, const app::ChannelSet& channels, std::int64_t now, int limit) {
  Fired fired;
  const auto rows = tx.query(std::string("SELECT ") + kColumns +
                                 " FROM scheduled_messages WHERE status = 'pending' AND send_at <= ? "
                                 "ORDER BY send_at, id LIMIT ?",
                             {now, std::int64_t{limit}});
  for (const Row& row : rows) {
    Schedule s = scheduleFrom(row);
    const auto request = delivery::SendRequest::fromJson(s.request);
    delivery::Accepted accepted;
    if (request) {
      accepted = delivery::acceptSend(tx, channels, s.conversationId, *request, "scheduled:" + s.id, now);
    } else {
      accepted.errorCode = "invalid_request";
      accepted.errorMessage = "the stored request cannot be read";
    }
    if (accepted.message) {
      s.status = "sent";
      s.messageId = accepted.message->id;
      ++fired.sent;
    } else {
      util::JsonWriter w;
      w.startObject().field("code", accepted.errorCode).field("message", accepted.errorMessage).endObject();
      s.status = "failed";
      s.error = w.str();
      ++fired.failed;
    }
    s.updatedAt = now;
    save(tx, s);
    fired.lastEventSeq = publish(tx, s, now);
  }
  return fired;
}

std::optional<std::int64_t> nextSendAt(Tx& tx) {
  const auto row = tx.queryOne("SELECT MIN(send_at) FROM scheduled_messages WHERE status = 'pending'");
  if (!row || row->isNull(0)) return std::nullopt;
  return row->getInt(0);
}

std::int64_t pendingCount(Tx& tx) {
  return tx.queryOne("SELECT COUNT(*) FROM scheduled_messages WHERE status = 'pending'")->getInt(0);
}

}  // namespace gateway::scheduler
