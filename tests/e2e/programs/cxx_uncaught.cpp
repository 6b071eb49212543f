// Termination: an uncaught exception, an exception leaving a noexcept function,
// std::terminate with a handler, and an atexit handler throwing after main returned; each ends
// the process with SIGABRT.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

static void boom() noexcept(false) { throw std::runtime_error("boom"); }
static void noexcept_boom() noexcept { boom(); }
static void atexit_boom() { throw std::runtime_error("atexit"); }

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "uncaught";
  std::printf("mode %s\n", mode.c_str());
  std::fflush(stdout);
  if (mode == "uncaught") boom();
  if (mode == "noexcept") noexcept_boom();
  if (mode == "handler") {
    std::set_terminate([] {
      std::fputs("custom terminate handler\n", stderr);
      std::abort();
    });
    boom();
  }
  if (mode == "atexit") {
    std::atexit(atexit_boom);
    return 0;
  }
  std::puts("not reached");
  return 0;
}
