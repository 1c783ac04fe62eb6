// A scratch directory for tests that need real files (config files, scenario directories).
// Created empty under the system temp directory, removed with everything in it on destruction.
#pragma once

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace smtpmock::testing {

/// A unique directory that lives as long as this object.
class temp_dir {
 public:
  temp_dir() {
    static int counter = 0;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = std::filesystem::temp_directory_path() /
            ("smtpmock-test-" + std::to_string(::getpid()) + "-" + std::to_string(stamp) + "-" +
             std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  /// Writes `text` to `name` inside the directory and returns its path.
  std::filesystem::path write(const std::string& name, std::string_view text) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace smtpmock::testing
