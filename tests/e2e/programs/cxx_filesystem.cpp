// <filesystem>: directories, files, iteration, sizes, rename, copy, symlinks, errors.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

int main() {
  fs::path base = "fs_test";
  fs::remove_all(base);
  fs::create_directories(base / "a" / "b");
  std::ofstream(base / "a" / "one.txt") << "12345";
  std::ofstream(base / "two.txt") << "hello world";
  fs::copy_file(base / "two.txt", base / "a" / "b" / "copy.txt");
  fs::rename(base / "a" / "one.txt", base / "a" / "renamed.txt");
  fs::create_symlink("two.txt", base / "link");
  std::vector<std::string> entries;
  for (auto &e : fs::recursive_directory_iterator(base)) {
    std::string kind = e.is_symlink() ? "link" : e.is_directory() ? "dir" : "file";
    std::string size = e.is_regular_file() && !e.is_symlink() ? std::to_string(e.file_size()) : "-";
    entries.push_back(e.path().generic_string() + " " + kind + " " + size);
  }
  std::sort(entries.begin(), entries.end());
  for (auto &s : entries) std::printf("%s\n", s.c_str());
  std::printf("exists %d %d\n", fs::exists(base / "two.txt"), fs::exists(base / "nope"));
  std::printf("read_symlink %s\n", fs::read_symlink(base / "link").c_str());
  fs::path p = "/usr/lib/libfoo.so.1";
  std::printf("path parts: %s %s %s %s\n", p.parent_path().c_str(), p.filename().c_str(),
              p.stem().c_str(), p.extension().c_str());
  std::error_code ec;
  fs::remove(base / "missing" / "x", ec);
  std::printf("remove missing: %d\n", ec ? 1 : 0);
  try {
    fs::file_size(base / "missing");
  } catch (const fs::filesystem_error &e) {
    std::printf("filesystem_error: %s\n", e.code() == std::errc::no_such_file_or_directory ? "ENOENT" : "other");
  }
  std::printf("removed %d entries\n", static_cast<int>(fs::remove_all(base)));
  std::printf("exists after %d\n", fs::exists(base));
  return 0;
}
