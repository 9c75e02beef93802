// tests/support/temp_dir.h: a fresh folder under $TMPDIR (or /tmp) for one test, removed with its files
// when the object goes away.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace kiln::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "kiln") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/" + tag + "-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace kiln::test
