// Organisation PKI: each organisation has its own CA (no central CA); its node certificate is
// issued by it and names the organisation in a SAN URI `jisr://org/<org>`. Peers pin each
// other's CA by file and SHA-256 fingerprint. Certificates and keys cross this interface as
// PEM text, so no OpenSSL type leaks into callers. Also the node's Ed25519 signing key
// (libsodium) that signs receipts and audit checkpoints.
// Thread-safety: pure functions over their arguments; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/core/clock.hpp"
#include "node/core/ids.hpp"
#include "node/core/node_home.hpp"
#include "node/core/result.hpp"

namespace jisr::pki {

// "jisr://org/<org>"
std::string org_uri(const OrgId& org);
// "jisr://ed25519/<64 hex digits>"
std::string sign_key_uri(const std::array<uint8_t, 32>& public_key);

struct CertificateRequest {
  OrgId org;                 // named in the SAN URI and the subject O
  std::string common_name;   // subject CN
  bool is_ca = false;        // CA:TRUE, keyCertSign (org CA) or a TLS end-entity certificate
  TimePoint not_before;
  TimePoint not_after;
  // Further SAN URIs, e.g. sign_key_uri() so the node's Ed25519 receipt-signing key is
  // certified by the org CA that peers pin.
  std::vector<std::string> extra_uris{};
};

struct IssuedCertificate {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8 private key (ECDSA P-256)
};

struct Issuer {
  std::string cert_pem;
  std::string key_pem;
};

// Issues a certificate with a fresh P-256 key, signed by issuer (or self-signed when none).
Result<IssuedCertificate> issue_certificate(const CertificateRequest& request,
                                            const std::optional<Issuer>& issuer);

struct CertificateInfo {
  std::string subject;           // one line, RFC 2253
  std::optional<OrgId> org;      // from the SAN URI jisr://org/<org>
  bool is_ca = false;            // basicConstraints CA:TRUE
  TimePoint not_before;
  TimePoint not_after;
  std::string fingerprint;       // "SHA256:AB:CD:..." of the DER encoding
  // The node's Ed25519 signing key, from the SAN URI jisr://ed25519/<hex> (node certificates
  // made by create_node_pki carry it): what a peer verifies our receipts and checkpoints with.
  std::optional<std::array<uint8_t, 32>> sign_key;
};

// Parses one PEM certificate; errors for anything that is not exactly a certificate.
Result<CertificateInfo> inspect_certificate(std::string_view pem);
Result<CertificateInfo> inspect_certificate_file(const std::filesystem::path& path);

// Checks a peer organisation's CA certificate before it is pinned (`jisr peer add`): exactly a
// parseable certificate, a CA (basicConstraints CA:TRUE), valid at now, and naming
// expected_org in its SAN URI when it names any org. Errors (kInvalidInput) say which check
// failed, in one line.
Result<CertificateInfo> check_peer_ca(std::string_view pem, const OrgId& expected_org, TimePoint now);

// Ed25519 signing key (libsodium).
struct SigningKey {
  std::array<uint8_t, 64> secret{};  // libsodium secret key (seed || public)
  std::array<uint8_t, 32> public_key{};
};
using Signature = std::array<uint8_t, 64>;

SigningKey generate_signing_key();
Result<SigningKey> load_signing_key(const std::filesystem::path& path);
Result<std::array<uint8_t, 32>> load_public_key(const std::filesystem::path& path);
Signature sign(const SigningKey& key, std::string_view message);
bool verify(const std::array<uint8_t, 32>& public_key, std::string_view message,
            const Signature& signature);

// Creates the PKI of a new node home: org CA (10 years), node certificate (2 years) issued by
// it, Ed25519 signing key. Private keys are written 0600.
Result<void> create_node_pki(const NodeHome& home, const OrgId& org, TimePoint now);

}  // namespace jisr::pki
