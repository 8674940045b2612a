#include "node/net/tls_context.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "node/core/file_io.hpp"
#include "node/pki/pki.hpp"

namespace jisr::net {
namespace {

namespace ssl = boost::asio::ssl;

constexpr size_t kMaxPemBytes = 64 * 1024;

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string cert_to_pem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr parse_pem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
}

}  // namespace

Result<TlsMaterial> load_tls_material(const NodeHome& home, const NodeConfig& config) {
  TlsMaterial m;
  JISR_TRY(m.chain_pem, read_file(home.node_cert(), kMaxPemBytes));
  JISR_TRY(m.key_pem, read_file(home.node_key(), kMaxPemBytes));
  for (const auto& peer : config.peers) {
    const auto path = home.peer_ca(peer.org.str());
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return make_error(Errc::kNotFound, "pinned CA of peer missing (run `jisr peer add`)",
                        path.string());
    }
    JISR_TRY(auto pem, read_file(path, kMaxPemBytes));
    auto info = pki::inspect_certificate(pem);
    if (!info) return make_error(Errc::kInvalidInput, info.error().what, path.string());
    m.peer_cas.emplace(peer.org, std::move(pem));
  }
  return m;
}

Result<std::unique_ptr<TlsContext>> TlsContext::create(const TlsMaterial& material,
                                                       TlsVersions versions) {
  ssl::context ctx(ssl::context::tls);
  SSL_CTX* native = ctx.native_handle();
  const int version = versions == TlsVersions::kTls13Only ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(native, version);
  SSL_CTX_set_max_proto_version(native, version);
  ctx.set_options(ssl::context::no_compression | ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx.use_certificate_chain(boost::asio::buffer(material.chain_pem), ec);
  if (ec) return make_error(Errc::kInvalidInput, "node certificate: " + openssl_reason(), "pki/node.pem");
  ctx.use_private_key(boost::asio::buffer(material.key_pem), ssl::context::pem, ec);
  if (ec) return make_error(Errc::kInvalidInput, "node key: " + openssl_reason(), "pki/node.key");
  if (SSL_CTX_check_private_key(native) != 1) {
    return make_error(Errc::kInvalidInput, "node key does not match the node certificate", "pki");
  }
  for (const auto& [org, pem] : material.peer_cas) {
    ctx.add_certificate_authority(boost::asio::buffer(pem), ec);
    if (ec) {
      return make_error(Errc::kInvalidInput, "pinned CA: " + openssl_reason(), "peers/" + org.str() + ".pem");
    }
  }
  // Secure by default with no switch (STYLE.md 9): a peer without a certificate is refused.
  ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  // Our chains are node certificate -> org CA: depth 1 is all a peer ever needs.
  SSL_CTX_set_verify_depth(native, 2);
  // TLS 1.3 session tickets would let a later connection skip the certificate exchange;
  // identity must come from a certificate every time.
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  std::unique_ptr<TlsContext> out(new TlsContext(std::move(ctx)));
  out->peer_cas_ = material.peer_cas;
  return out;
}

Result<PeerIdentity> TlsContext::identify(SSL* ssl, Direction direction,
                                          const std::optional<OrgId>& expected_org) const {
  const auto denied = [](std::string what) { return make_error(Errc::kDenied, std::move(what), "tls"); };
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return denied("peer presented no certificate");
  if (const long v = SSL_get_verify_result(ssl); v != X509_V_OK) {
    return denied(std::string("certificate not verified: ") + X509_verify_cert_error_string(v));
  }
  auto info = pki::inspect_certificate(cert_to_pem(cert));
  if (!info) return denied("peer certificate unreadable: " + info.error().what);
  if (!info.value().org) return denied("peer certificate names no organisation");
  const OrgId org = *info.value().org;
  const auto ca = peer_cas_.find(org);
  if (ca == peer_cas_.end()) {
    return denied(fmt::format("certificate of org '{}', which is not a configured peer", org.str()));
  }
  if (expected_org && org != *expected_org) {
    return denied(fmt::format("dialled org '{}' but the certificate names org '{}'",
                              expected_org->str(), org.str()));
  }
  // Verify again against the one CA pinned for this org: the handshake accepted any pinned CA.
  X509Ptr ca_cert = parse_pem(ca->second);
  if (!ca_cert) return denied("pinned CA of org '" + org.str() + "' does not parse");
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca_cert.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> vctx(X509_STORE_CTX_new(),
                                                                       X509_STORE_CTX_free);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (X509_STORE_CTX_init(vctx.get(), store.get(), cert, chain) != 1) {
    return denied("cannot set up chain verification");
  }
  X509_STORE_CTX_set_purpose(vctx.get(), direction == Direction::kInbound ? X509_PURPOSE_SSL_CLIENT
                                                                         : X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(vctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(vctx.get());
    ERR_clear_error();
    return denied(fmt::format("certificate of org '{}' is not issued by that org's pinned CA ({})",
                              org.str(), X509_verify_cert_error_string(err)));
  }
  PeerIdentity id;
  id.org = org;
  id.fingerprint = info.value().fingerprint;
  id.not_after = info.value().not_after;
  id.direction = direction;
  id.sign_key = info.value().sign_key;
  return id;
}

std::string TlsContext::handshake_failure_reason(SSL* ssl, const std::string& fallback) {
  if (ssl) {
    const long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) return std::string("certificate refused: ") + X509_verify_cert_error_string(v);
  }
  return fallback;
}

}  // namespace jisr::net
