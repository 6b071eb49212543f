// An exception escaping a thread's function: std::terminate (libc++'s and libstdc++'s thread
// entry catch nothing), so the process dies of SIGABRT. A pthread_create start routine and a
// std::thread function behave alike.
#include <pthread.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

static void boom(const char *where) { throw std::runtime_error(where); }

static void *start_routine(void *) {
  boom("pthread");
  return nullptr;
}

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "std";
  std::printf("mode %s\n", mode.c_str());
  std::fflush(stdout);
  try {  // the thread's exception never reaches a handler in the thread that started it
    if (mode == "std") {
      std::thread t([] { boom("std::thread"); });
      t.join();
    } else {
      pthread_t t;
      pthread_create(&t, nullptr, start_routine, nullptr);
      pthread_join(t, nullptr);
    }
  } catch (...) {
    std::puts("caught in main: not reached");
  }
  std::puts("not reached");
  return 0;
}
