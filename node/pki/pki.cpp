#include "node/pki/pki.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <memory>

#include "node/core/file_io.hpp"

namespace jisr::pki {
namespace {

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

constexpr std::string_view kUriPrefix = "jisr://org/";
constexpr std::string_view kSignKeyUriPrefix = "jisr://ed25519/";

Error ssl_error(std::string_view what) {
  const unsigned long code = ERR_get_error();
  char buf[256] = "unknown";
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return make_error(Errc::kInvalidInput, fmt::format("{}: {}", what, buf), "openssl");
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

X509Ptr parse_cert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

KeyPtr parse_key(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

Result<void> add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return ssl_error("certificate extension");
  return ok();
}

TimePoint asn1_to_time(const ASN1_TIME* t) {
  struct tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  const auto secs = timegm(&tm);
  return TimePoint(std::chrono::seconds(secs));
}

}  // namespace

std::string org_uri(const OrgId& org) { return std::string(kUriPrefix) + org.str(); }

std::string sign_key_uri(const std::array<uint8_t, 32>& public_key) {
  std::string hex(65, '\0');
  sodium_bin2hex(hex.data(), hex.size(), public_key.data(), public_key.size());
  hex.pop_back();
  return std::string(kSignKeyUriPrefix) + hex;
}

Result<IssuedCertificate> issue_certificate(const CertificateRequest& request,
                                            const std::optional<Issuer>& issuer) {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return ssl_error("key generation");
  X509Ptr issuer_cert;
  KeyPtr issuer_key;
  if (issuer) {
    issuer_cert = parse_cert(issuer->cert_pem);
    issuer_key = parse_key(issuer->key_pem);
    if (!issuer_cert || !issuer_key) return ssl_error("issuer certificate or key");
  }
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  // A random 127-bit serial, as CAs are expected to use.
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  const auto to_time_t = [](TimePoint t) {
    return static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), to_time_t(request.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), to_time_t(request.not_after));
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.org.str().c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer_cert.get()) : name);
  X509* signer_cert = issuer ? issuer_cert.get() : cert.get();
  EVP_PKEY* signer_key = issuer ? issuer_key.get() : key.get();
  if (request.is_ca) {
    JISR_TRY(add_ext(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
    JISR_TRY(add_ext(cert.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    JISR_TRY(add_ext(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE"));
    JISR_TRY(add_ext(cert.get(), signer_cert, NID_key_usage, "critical,digitalSignature"));
    JISR_TRY(add_ext(cert.get(), signer_cert, NID_ext_key_usage, "serverAuth,clientAuth"));
  }
  std::string san = "URI:" + org_uri(request.org);
  for (const auto& uri : request.extra_uris) san += ",URI:" + uri;
  JISR_TRY(add_ext(cert.get(), signer_cert, NID_subject_alt_name, san));
  JISR_TRY(add_ext(cert.get(), signer_cert, NID_subject_key_identifier, "hash"));
  if (issuer) {
    JISR_TRY(add_ext(cert.get(), signer_cert, NID_authority_key_identifier, "keyid:always"));
  }
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) == 0) return ssl_error("signing");

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ssl_error("PEM encoding");
  }
  return IssuedCertificate{bio_to_string(cert_bio.get()), bio_to_string(key_bio.get())};
}

Result<CertificateInfo> inspect_certificate(std::string_view pem) {
  if (pem.size() > 64 * 1024) {
    return make_error(Errc::kInvalidInput, "certificate file larger than 64 KiB");
  }
  X509Ptr cert = parse_cert(pem);
  if (!cert) {
    ERR_clear_error();
    return make_error(Errc::kInvalidInput, "not a PEM certificate");
  }
  CertificateInfo info;
  BioPtr subject(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(subject.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253);
  info.subject = bio_to_string(subject.get());
  info.is_ca = X509_check_ca(cert.get()) == 1 &&
               (X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0;
  info.not_before = asn1_to_time(X509_get0_notBefore(cert.get()));
  info.not_after = asn1_to_time(X509_get0_notAfter(cert.get()));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  X509_digest(cert.get(), EVP_sha256(), md, &md_len);
  std::string fp = "SHA256:";
  for (unsigned i = 0; i < md_len; ++i) fp += fmt::format("{}{:02X}", i ? ":" : "", md[i]);
  info.fingerprint = fp;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      if (gn->type != GEN_URI) continue;
      const auto* s = gn->d.uniformResourceIdentifier;
      std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
      if (uri.starts_with(kSignKeyUriPrefix)) {
        const auto hex = uri.substr(kSignKeyUriPrefix.size());
        std::array<uint8_t, 32> key{};
        size_t len = 0;
        if (sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &len, nullptr) == 0 &&
            len == key.size() && hex.size() == 64) {
          info.sign_key = key;
        }
      }
      if (uri.starts_with(kUriPrefix)) {
        const auto org = uri.substr(kUriPrefix.size());
        if (is_valid_org_id(org)) info.org = OrgId(std::string(org));
      }
    }
    GENERAL_NAMES_free(names);
  }
  return info;
}

Result<CertificateInfo> inspect_certificate_file(const std::filesystem::path& path) {
  JISR_TRY(auto pem, read_file(path, 64 * 1024));
  auto info = inspect_certificate(pem);
  if (!info) return make_error(info.error().code, info.error().what, path.string());
  return info;
}

Result<CertificateInfo> check_peer_ca(std::string_view pem, const OrgId& expected_org, TimePoint now) {
  JISR_TRY(auto info, inspect_certificate(pem));
  if (!info.is_ca) return make_error(Errc::kInvalidInput, "not a CA certificate (an org CA is needed)");
  if (now >= info.not_after) {
    return make_error(Errc::kInvalidInput, "CA certificate expired on " + format_utc(info.not_after));
  }
  if (now < info.not_before) {
    return make_error(Errc::kInvalidInput, "CA certificate not valid before " + format_utc(info.not_before));
  }
  if (info.org && *info.org != expected_org) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("CA certificate is for org '{}', not '{}'", info.org->str(), expected_org.str()));
  }
  return info;
}

SigningKey generate_signing_key() {
  SigningKey key;
  crypto_sign_keypair(key.public_key.data(), key.secret.data());
  return key;
}

namespace {
template <size_t N>
Result<std::array<uint8_t, N>> read_hex_key(const std::filesystem::path& path) {
  JISR_TRY(auto text, read_file(path, 4096));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  std::array<uint8_t, N> out{};
  size_t len = 0;
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr) != 0 ||
      len != N) {
    return make_error(Errc::kInvalidInput, "not a valid key file", path.string());
  }
  return out;
}
}  // namespace

Result<SigningKey> load_signing_key(const std::filesystem::path& path) {
  JISR_TRY(auto secret, read_hex_key<64>(path));
  SigningKey key;
  key.secret = secret;
  crypto_sign_ed25519_sk_to_pk(key.public_key.data(), key.secret.data());
  sodium_memzero(secret.data(), secret.size());
  return key;
}

Result<std::array<uint8_t, 32>> load_public_key(const std::filesystem::path& path) {
  return read_hex_key<32>(path);
}

Signature sign(const SigningKey& key, std::string_view message) {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), key.secret.data());
  return sig;
}

bool verify(const std::array<uint8_t, 32>& public_key, std::string_view message,
            const Signature& signature) {
  return crypto_sign_verify_detached(signature.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), public_key.data()) == 0;
}

Result<void> create_node_pki(const NodeHome& home, const OrgId& org, TimePoint now) {
  using namespace std::chrono;
  std::error_code ec;
  std::filesystem::create_directories(home.pki_dir(), ec);
  if (ec) return make_error(Errc::kIo, ec.message(), home.pki_dir().string());
  std::filesystem::permissions(home.pki_dir(), std::filesystem::perms::owner_all, ec);
  const auto start = now - hours(1);  // tolerate small clock differences between nodes
  JISR_TRY(auto ca, issue_certificate({org, "Jisr organisation CA " + org.str(), true, start,
                                       now + days(3653)},
                                      std::nullopt));
  auto signing = generate_signing_key();
  CertificateRequest node_request{org, "Jisr node " + org.str(), false, start, now + days(730), {}};
  node_request.extra_uris.push_back(sign_key_uri(signing.public_key));
  auto node_issued = issue_certificate(node_request, Issuer{ca.cert_pem, ca.key_pem});
  if (!node_issued) {
    sodium_memzero(signing.secret.data(), signing.secret.size());
    return node_issued.error();
  }
  auto node = std::move(node_issued).value();
  JISR_TRY(write_file_atomic(home.ca_cert(), ca.cert_pem, 0644));
  JISR_TRY(write_file_atomic(home.ca_key(), ca.key_pem, 0600));
  JISR_TRY(write_file_atomic(home.node_cert(), node.cert_pem + ca.cert_pem, 0644));
  JISR_TRY(write_file_atomic(home.node_key(), node.key_pem, 0600));
  std::string hex(signing.secret.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), signing.secret.data(), signing.secret.size());
  hex.pop_back();
  auto written = write_file_atomic(home.sign_key(), hex + "\n", 0600);
  sodium_memzero(hex.data(), hex.size());
  sodium_memzero(signing.secret.data(), signing.secret.size());
  JISR_TRY(written);
  std::string pub(65, '\0');
  sodium_bin2hex(pub.data(), pub.size(), signing.public_key.data(), signing.public_key.size());
  pub.pop_back();
  JISR_TRY(write_file_atomic(home.sign_pub(), pub + "\n", 0644));
  return ok();
}

}  // namespace jisr::pki
