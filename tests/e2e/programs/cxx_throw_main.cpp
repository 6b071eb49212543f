// C++ exceptions across object files (with cxx_throw_lib.cpp): class hierarchies, libc++'s own
// exceptions, rethrow, catch(...), unwinding destructors, function-try-blocks.
#include <cstdio>
#include <stdexcept>
#include <string>

struct AppError : std::runtime_error {
  int code;
  AppError(const std::string &what, int c) : std::runtime_error(what), code(c) {}
};
int parse_positive(const std::string &s);
void throw_int(int v);

static int attempt(const char *s) {
  try {
    int v = parse_positive(s);
    std::printf("%s -> %d\n", s, v);
    return v;
  } catch (const AppError &e) {
    std::printf("AppError(%d): %s\n", e.code, e.what());
  } catch (const std::invalid_argument &e) {
    std::printf("invalid_argument for %s\n", s);
  } catch (const std::exception &e) {  // what() is the library's own text: not compared
    std::printf("exception (%s) for %s\n",
                dynamic_cast<const std::out_of_range *>(&e) ? "out_of_range" : "other", s);
  }
  return -1;
}

static void rethrower() {
  try {
    throw_int(42);
  } catch (int v) {
    std::printf("first catch %d, rethrowing\n", v);
    throw;
  }
}

struct Member {
  Member() { throw std::logic_error("member ctor"); }
};
struct Holder {
  Member m;
  Holder() try : m() {
  } catch (const std::logic_error &e) {
    std::printf("function-try-block: %s\n", e.what());
  }
};

int main() {
  int total = 0;
  for (const char *s : {"12", "-3", "7x", "abc", "99999999999"}) total += attempt(s);
  std::printf("total %d\n", total);
  try {
    rethrower();
  } catch (...) {
    std::printf("caught the rethrow in main\n");
  }
  try {
    Holder h;
  } catch (const std::exception &e) {
    std::printf("rethrown from the ctor: %s\n", e.what());
  }
  for (int depth = 0; depth < 3; depth++) {
    try {
      try {
        if (depth == 1) throw std::out_of_range("depth 1");
        if (depth == 2) throw 2.5;
        std::printf("depth %d: no throw\n", depth);
      } catch (const std::out_of_range &) {
        std::printf("inner caught out_of_range\n");
        throw std::runtime_error("translated");
      }
    } catch (const std::runtime_error &e) {
      std::printf("outer: %s\n", e.what());
    } catch (double d) {
      std::printf("outer double %.1f\n", d);
    }
  }
  return 0;
}
