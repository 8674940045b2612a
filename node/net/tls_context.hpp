// TlsContext: the one place where the node's mutual-TLS settings are made (STYLE.md 15).
// TLS 1.3 only, both sides present certificates (verify_peer | verify_fail_if_no_peer_cert),
// the trust store holds only the pinned CAs of configured peers. After the handshake,
// identify() re-checks that the certificate's organisation is a configured peer AND that the
// chain verifies against THAT organisation's pinned CA, not merely against some pinned CA,
// and yields the PeerIdentity everything later relies on.
// Includes Asio's SSL header: only node/net and `jisr serve` include this file.
// Thread-safety: immutable after create(); the ssl::context may be shared by sessions running
// on the node's single io_context thread.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "node/core/node_config.hpp"
#include "node/core/node_home.hpp"
#include "node/core/result.hpp"
#include "node/net/peer_identity.hpp"

namespace jisr::net {

// The PEM material a TlsContext is built from; tests build it in memory.
struct TlsMaterial {
  std::string chain_pem;              // node certificate followed by the org CA (DIR/pki/node.pem)
  std::string key_pem;                // node private key (DIR/pki/node.key)
  std::map<OrgId, std::string> peer_cas;  // pinned CA of each configured peer (DIR/peers/ORG.pem)
};

// Reads DIR/pki/node.pem, node.key and DIR/peers/ORG.pem of every peer in config.
// Errors: kNotFound / kIo naming the missing file; kInvalidInput for a CA that does not parse.
Result<TlsMaterial> load_tls_material(const NodeHome& home, const NodeConfig& config);

// Which TLS versions the context accepts. Production is always kTls13Only; kTls12Only exists
// so tests can prove that a TLS 1.2 client is refused.
enum class TlsVersions { kTls13Only, kTls12OnlyForTests };

class TlsContext {
 public:
  // Errors: kInvalidInput when the key does not match the certificate or a PEM is unusable.
  static Result<std::unique_ptr<TlsContext>> create(const TlsMaterial& material,
                                                    TlsVersions versions = TlsVersions::kTls13Only);
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  boost::asio::ssl::context& context() { return context_; }

  // After a successful handshake: the verified identity of the peer. expected_org is the org
  // this node dialled (outbound) or nullopt (inbound). Errors (kDenied) carry a one-line reason:
  // no certificate, chain not verified, no org in the certificate, org not a configured peer,
  // chain not issued by that org's pinned CA, or not the org that was dialled.
  Result<PeerIdentity> identify(SSL* ssl, Direction direction,
                                const std::optional<OrgId>& expected_org) const;

  // Why a handshake failed, in one line (the X.509 verification error when there is one).
  static std::string handshake_failure_reason(SSL* ssl, const std::string& fallback);

 private:
  explicit TlsContext(boost::asio::ssl::context context) : context_(std::move(context)) {}

  boost::asio::ssl::context context_;
  std::map<OrgId, std::string> peer_cas_;
};

}  // namespace jisr::net
