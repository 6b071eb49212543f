// Exceptions nobody catches around main: a three-argument main that throws, a static destructor
// and an atexit handler that throw while the process exits (after main returns or calls exit).
// Each calls std::terminate: SIGABRT.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

static const char *mode = "main";

static void boom(const char *where) { throw std::runtime_error(where); }

struct ThrowsOnDestroy {
  ~ThrowsOnDestroy() noexcept(false) {
    if (std::strcmp(mode, "destructor") == 0) boom("static destructor");
  }
};
static ThrowsOnDestroy global;

static void at_exit() {
  if (std::strncmp(mode, "atexit", 6) == 0) boom("atexit handler");
}

int main(int argc, char **argv, char **envp) {
  if (argc > 1) mode = argv[1];
  std::atexit(at_exit);
  std::printf("mode %s, environment %s\n", mode, envp ? "given" : "missing");
  std::fflush(stdout);
  if (std::strcmp(mode, "main") == 0) boom("main");
  if (std::strcmp(mode, "atexit-exit") == 0) std::exit(0);
  return 0;
}
