// The CRM API's JSON for contacts, conversations and messages: one renderer, used by the
// API handlers and by the events feed (whose data is "the object as the API returns it").
#pragma once

#include <cstdint>
#include <string>

#include "app/channels.h"
#include "crm/records.h"
#include "storage/store.h"

namespace gateway::crm {

// What a free-form send on this conversation would get now: null (allowed), or
// channel_disabled / contact_blocked / window_closed; plus when the window closes.
struct SendRule {
  bool canSend = false;
  const char* reason = nullptr;
  std::optional<std::int64_t> windowExpiresAt;
};
SendRule freeFormRule(const app::ChannelSet& channels, const Conversation& conversation, bool contactBlocked,
                      std::int64_t now);

// The same rules for a particular send: a template may ignore the window (WhatsApp), a
// HUMAN_AGENT tag extends it (Messenger/Instagram), as the channel's plugin traits say.
// Returns nullptr when allowed, else the contract's error code.
const char* sendRefusal(const app::ChannelSet& channels, const Conversation& conversation, bool contactBlocked,
                        bool isTemplate, bool humanAgentTag, std::int64_t now);

std::string renderMessage(const Message& message);
std::string renderConversation(const app::ChannelSet& channels, const Conversation& conversation,
                               bool contactBlocked, std::int64_t now);
// Reads identities and conversations through tx.
std::string renderContact(storage::Tx& tx, const app::ChannelSet& channels, const Contact& contact,
                          std::int64_t now);

}  // namespace gateway::crm
