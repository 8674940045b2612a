// NodeHome: the paths of a node home directory (DESIGN.md "Node home"). Pure path arithmetic;
// no I/O. Thread-safety: value type.
#pragma once

#include <filesystem>
#include <string>

namespace jisr {

class NodeHome {
 public:
  explicit NodeHome(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path node_yaml() const { return dir_ / "node.yaml"; }
  std::filesystem::path schema_yaml() const { return dir_ / "schema.yaml"; }
  std::filesystem::path pki_dir() const { return dir_ / "pki"; }
  std::filesystem::path ca_cert() const { return pki_dir() / "ca.pem"; }
  std::filesystem::path ca_key() const { return pki_dir() / "ca.key"; }
  std::filesystem::path node_cert() const { return pki_dir() / "node.pem"; }
  std::filesystem::path node_key() const { return pki_dir() / "node.key"; }
  // Ed25519 signing key (libsodium secret key, hex) and its public half.
  std::filesystem::path sign_key() const { return pki_dir() / "sign.key"; }
  std::filesystem::path sign_pub() const { return pki_dir() / "sign.pub"; }
  std::filesystem::path peers_dir() const { return dir_ / "peers"; }
  std::filesystem::path peer_ca(const std::string& org) const { return peers_dir() / (org + ".pem"); }
  std::filesystem::path policies_dir() const { return dir_ / "policies"; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path run_dir() const { return dir_ / "run"; }
  std::filesystem::path admin_socket() const { return run_dir() / "admin.sock"; }

 private:
  std::filesystem::path dir_;
};

}  // namespace jisr
