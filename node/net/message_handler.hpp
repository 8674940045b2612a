// MessageHandler: how the layers above the transport (node/exchange, wired by node/app) receive
// what peers send, without touching transport internals. The transport itself answers hello,
// ping/pong and errors, and routes responses to the request() that awaits them; every other
// message reaches handle().
// Threading: all calls happen on the node's single io_context thread (see peer_network.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "node/net/peer_identity.hpp"
#include "protocol/messages.hpp"

namespace jisr::net {

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;

  // A request from a verified peer. Runs as its own coroutine (the session keeps reading), may
  // co_await PeerNetwork::request. Return the response (the transport sets its request id to
  // the request's) or nullopt to send nothing. Throwing is a bug: the transport logs it and
  // answers with an `internal` error.
  virtual boost::asio::awaitable<std::optional<protocol::Message>> handle(
      const PeerIdentity& peer, protocol::Message message) = 0;

  // A session with peer is established (after TLS, identity check and hello). Sync starts here.
  virtual void on_peer_connected(const PeerIdentity& /*peer*/) {}
  // The established session with org ended (it may come back later).
  virtual void on_peer_disconnected(const OrgId& /*org*/) {}
  // An inbound connection was refused; remote is "ADDRESS:PORT". For the audit log.
  virtual void on_connection_refused(const std::string& /*remote*/, const std::string& /*reason*/) {}
};

}  // namespace jisr::net
