// Static constructors run before main in definition order; destructors of statics (globals,
// function-local statics) run at exit in reverse order of construction, interleaved with atexit
// handlers as the standard says.
#include <cstdio>
#include <cstdlib>

struct Noisy {
  const char *name;
  explicit Noisy(const char *n) : name(n) { std::printf("construct %s\n", name); }
  ~Noisy() { std::printf("destroy %s\n", name); }
};

Noisy first("global first");
static Noisy second("static second");
int computed = [] { std::printf("dynamic init of computed\n"); return 5; }();

static Noisy &local() {
  static Noisy l("function-local");
  return l;
}

__attribute__((constructor)) static void ctor_attr() { std::printf("constructor attribute\n"); }

static void at_exit_handler() { std::printf("atexit handler\n"); }

int main(int argc, char **argv) {
  std::printf("main, computed=%d\n", computed);
  std::atexit(at_exit_handler);
  local();
  Noisy automatic("automatic");
  if (argc > 1) std::exit(3);  // exit(): automatic objects are not destroyed
  return 0;
}
