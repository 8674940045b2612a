// `jisr import`: CSV (HXL-aware) into the record store.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include "adapters/csv_import.hpp"
#include "node/app/cli.hpp"

namespace jisr::app {
namespace {

struct ImportOptions {
  std::string dir;
  std::string mapping;
  std::string file;
  bool dry_run = false;
  bool json = false;
};

constexpr size_t kMaxShownRejections = 50;

// A CsvReader source over a file descriptor.
adapters::CsvReader::Source fd_source(int fd, std::string path) {
  return [fd, path](char* buf, size_t max) -> Result<size_t> {
    for (;;) {
      const ssize_t n = ::read(fd, buf, max);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return make_error(Errc::kIo, std::strerror(errno), path);
    }
  };
}

int run_import(const ImportOptions& opt) {
  auto node = open_node(opt.dir);
  if (!node) return fail(node.error());
  auto src = YamlSource::from_file(opt.mapping);
  auto mapping = adapters::ColumnMapping::load(src, node.value().schema);
  if (!mapping) return fail(mapping.error());

  const int fd = ::open(opt.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(make_error(Errc::kIo, std::strerror(errno), opt.file));
  struct stat st{};
  ::fstat(fd, &st);
  const auto total_bytes = static_cast<uint64_t>(st.st_size);
  adapters::CsvReader reader(fd_source(fd, opt.file));

  store::RecordStore records(*node.value().env);
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto started = std::chrono::steady_clock::now();
  size_t shown = 0;
  uint64_t hidden = 0;
  adapters::ImportOptions options;
  options.dry_run = opt.dry_run;
  options.on_reject = [&](const adapters::RowRejection& r) {
    if (shown < kMaxShownRejections) {
      ++shown;
      if (tty) std::cerr << "\r\033[K";
      std::cerr << fmt::format("jisr: warning: row rejected: {} ({}:{})\n", r.reason, opt.file, r.line);
    } else {
      ++hidden;
    }
  };
  if (tty) {
    options.on_progress = [&](const adapters::ImportCounts& c, uint64_t bytes) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const double rate = secs > 0 ? static_cast<double>(c.rows()) / secs : 0;
      const double frac = total_bytes ? static_cast<double>(bytes) / static_cast<double>(total_bytes) : 1;
      const double eta = frac > 0 ? secs / frac - secs : 0;
      const int width = 30;
      const int filled = static_cast<int>(frac * width);
      std::cerr << fmt::format("\r[{}{}] {:>3.0f}%  {} rows  {:.0f} rows/s  ETA {:.0f}s\033[K",
                               std::string(static_cast<size_t>(filled), '#'),
                               std::string(static_cast<size_t>(width - filled), ' '), frac * 100,
                               c.rows(), rate, eta);
    };
  }
  audit::AuditLog audit_log(*node.value().env, node.value().config.org.str());
  const SystemClock clock;
  // Each batch and its audit entry (counts only: no ids, no values) commit together.
  options.before_commit = [&](store::WriteTxn& txn, const adapters::ImportCounts& batch) -> Result<void> {
    audit::AuditEvent e;
    e.kind = audit::AuditKind::kRecordImported;
    e.actor = local_admin();
    e.counts = {{"imported", batch.imported}, {"updated", batch.updated}, {"unchanged", batch.unchanged}};
    e.detail = "csv import";
    JISR_TRY(audit_log.append(txn, e, clock.now()));
    return ok();
  };
  auto counts = adapters::import_csv(reader, mapping.value(), node.value().schema, records, options);
  ::close(fd);
  if (tty) std::cerr << "\r\033[K";
  if (hidden > 0) {
    std::cerr << fmt::format("jisr: warning: {} more rows rejected (not shown)\n", hidden);
  }
  if (!counts) {
    auto e = counts.error();
    if (e.where.empty()) e.where = opt.file;
    return fail(e);
  }
  const auto& c = counts.value();
  if (opt.json) {
    print_json({{"file", opt.file},
                {"dry_run", opt.dry_run},
                {"imported", c.imported},
                {"updated", c.updated},
                {"unchanged", c.unchanged},
                {"rejected", c.rejected}});
  } else {
    std::cout << fmt::format("{}imported {}, updated {}, unchanged {}, rejected {}\n",
                             opt.dry_run ? "dry run (nothing written): " : "", c.imported,
                             c.updated, c.unchanged, c.rejected);
  }
  return kExitOk;
}

}  // namespace

void add_import_command(CLI::App& app, Action& action) {
  auto opt = std::make_shared<ImportOptions>();
  auto* cmd = app.add_subcommand("import", "import a CSV file (HXL-aware) into the record store");
  add_dir_option(*cmd, opt->dir);
  cmd->add_option("--mapping", opt->mapping, "column mapping YAML")->required();
  cmd->add_option("file", opt->file, "CSV file")->required();
  cmd->add_flag("--dry-run", opt->dry_run, "validate and count, write nothing");
  cmd->add_flag("--json", opt->json, "print the summary as JSON");
  cmd->callback([opt, &action] { action = [opt] { return run_import(*opt); }; });
}

}  // namespace jisr::app
