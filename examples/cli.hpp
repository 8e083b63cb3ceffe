// What the example programs share on their command lines (CLI11) and around their outputs: validators that refuse
// a negative, non-numeric or out-of-range count with the option's name, an output folder checked for writing before
// any work starts, and file names that cannot leave that folder. Host compiler only: CLI11 stays out of nvcc.
#pragma once

#include <CLI/CLI.hpp>

#include "written_files.hpp"

#include <attractor/core/error.hpp>
#include <attractor/io/file.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>

namespace examples {

/// A count written in decimal digits only (no sign, exponent or suffix, which CLI11 would otherwise wrap, round or
/// ignore), within [lo, hi].
inline CLI::Validator count_in(std::uintmax_t lo, std::uintmax_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        bool ok = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == text.npos;
        std::uintmax_t value = 0;
        try {
          if (ok) value = std::stoull(text);
        } catch (const std::out_of_range&) {
          ok = false;
        }
        if (ok && value >= lo && value <= hi) return {};
        return attractor::detail::concat("expected a whole number from ", lo, " to ", hi, ", got '", text, "'");
      },
      attractor::detail::concat("INT in [", lo, ", ", hi, "]"), "count");
}

/// A finite number (NaN and Inf are refused) within [lo, hi].
inline CLI::Validator number_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        std::size_t used = 0;
        double value = std::numeric_limits<double>::quiet_NaN();
        try {
          value = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == text.size() && std::isfinite(value) && value >= lo && value <= hi) return {};
        return attractor::detail::concat("expected a finite number from ", lo, " to ", hi, ", got '", text, "'");
      },
      attractor::detail::concat("FLOAT in [", lo, ", ", hi, "]"), "number");
}

/// A name for files inside the output folder: letters, digits and . _ - + only, not starting with a dot, so that it
/// can neither leave the folder nor hide in it.
inline CLI::Validator file_name() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool ok =
            !text.empty() && text.size() <= 200 && text[0] != '.' &&
            text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+") == text.npos;
        if (ok) return {};
        return "expected a file name of letters, digits and . _ - + (no path, not starting with '.'), got '" + text +
               "'";
      },
      "NAME", "file name");
}

/// Creates `dir` if needed and proves that a file can be written in it, before any work starts; throws
/// attractor::error naming `option` otherwise (an existing file in the way, a read-only place).
inline void require_writable_folder(const std::filesystem::path& dir, const char* program, const char* option) {
  const std::string fn = attractor::detail::concat(program, " ", option);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec))
    attractor::fail(fn, "a folder", attractor::detail::concat(dir, ", which is a file"));
  std::filesystem::create_directories(dir, ec);
  if (ec) attractor::fail(fn, "a folder that can be created", attractor::detail::concat(dir, ": ", ec.message()));
  const auto probe = dir / ".write-probe";
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (f == nullptr) attractor::fail(fn, "a folder that can be written", dir);
  std::fclose(f);
  std::filesystem::remove(probe, ec);
}

/// Parses argv with `app`; on a parse error or --help prints what CLI11 prints and exits with its code (0 for
/// --help, non-zero for an error).
inline void parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
}

/// The Lorenz-63 data set's options that lorenz63_generate and lorenz63_transfer share, in `group`.
inline void add_lorenz63_data_options(CLI::App& app, const char* group, std::size_t& train_members,
                                      std::size_t& test_members, std::size_t& trajectory_steps, std::size_t& spin_up) {
  app.add_option("--train-members", train_members, "train trajectories (default 16)")
      ->check(count_in(1, 100000))
      ->group(group);
  app.add_option("--test-members", test_members, "test trajectories (default 16)")
      ->check(count_in(1, 100000))
      ->group(group);
  app.add_option("--trajectory-steps", trajectory_steps, "kept steps per trajectory (default 1000000)")
      ->check(count_in(1, 1'000'000'000))
      ->group(group);
  app.add_option("--spin-up", spin_up, "discarded steps before them (default 100000)")
      ->check(count_in(0, 1'000'000'000))
      ->group(group);
}

}  // namespace examples
