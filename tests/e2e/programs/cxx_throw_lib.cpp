// Throws from another object file: cxx_throw_main.cpp catches (C++ exceptions across objects).
#include <cstdio>
#include <stdexcept>
#include <string>

struct AppError : std::runtime_error {
  int code;
  AppError(const std::string &what, int c) : std::runtime_error(what), code(c) {}
};

struct Guard {
  const char *name;
  explicit Guard(const char *n) : name(n) {}
  ~Guard() { std::printf("unwind %s\n", name); }
};

int parse_positive(const std::string &s) {
  Guard g("parse_positive");
  std::size_t used = 0;
  int v = std::stoi(s, &used);  // std::invalid_argument from libc++ for "abc"
  if (used != s.size()) throw AppError("trailing junk in " + s, 2);
  if (v <= 0) throw AppError("not positive: " + s, 1);
  return v;
}

void throw_int(int v) { throw v; }
