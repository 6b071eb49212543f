// Termination: an uncaught exception, an exception leaving a noexcept function, and
// std::terminate with a handler; each ends the process with SIGABRT.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

static void boom() noexcept(false) { throw std::runtime_error("boom"); }
static void noexcept_boom() noexcept { boom(); }

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
  std::puts("not reached");
  return 0;
}
