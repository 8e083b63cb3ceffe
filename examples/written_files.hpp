// The files an example program wrote, printed when first written and listed again at the end (nvcc-safe: the cuda
// examples use it too).
#pragma once

#include <cstdio>
#include <filesystem>
#include <vector>

namespace examples {

/// The files a run wrote, printed when first written (a file rewritten as a run goes on is listed once) and listed
/// again at the end.
class written_files {
public:
  void add(const std::filesystem::path& path) {
    for (const auto& p : paths_)
      if (p == path) return;
    std::printf("wrote %s\n", path.c_str());
    paths_.push_back(path);
  }
  void print_summary() const {
    if (paths_.empty()) return;
    std::printf("\nfiles written (%zu):\n", paths_.size());
    for (const auto& p : paths_) std::printf("  %s\n", p.c_str());
  }

private:
  std::vector<std::filesystem::path> paths_;
};

}  // namespace examples
