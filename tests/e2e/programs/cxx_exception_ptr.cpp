// std::exception_ptr: make_exception_ptr, current_exception, rethrow_exception (also on another
// thread), nested exceptions, and uncaught_exceptions() in a destructor.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static void report(const std::exception_ptr &p) {
  try {
    std::rethrow_exception(p);
  } catch (const std::exception &e) {
    std::printf("rethrown: %s\n", e.what());
  } catch (int v) {
    std::printf("rethrown int %d\n", v);
  }
}

static void print_nested(const std::exception &e, int level = 0) {
  std::printf("%*s%s\n", level * 2, "", e.what());
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception &inner) {
    print_nested(inner, level + 1);
  }
}

struct Watch {
  ~Watch() { std::printf("uncaught_exceptions in dtor: %d\n", std::uncaught_exceptions()); }
};

int main() {
  std::exception_ptr none;
  std::printf("empty: %s\n", none ? "no" : "yes");
  report(std::make_exception_ptr(std::runtime_error("made")));
  report(std::make_exception_ptr(7));
  std::exception_ptr saved;
  try {
    throw std::length_error("captured");
  } catch (...) {
    saved = std::current_exception();
  }
  std::exception_ptr copy = saved;
  std::printf("copies equal: %d\n", copy == saved);
  report(copy);

  std::vector<std::exception_ptr> errors(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; i++)
    threads.emplace_back([i, &errors] {
      try {
        if (i != 1) throw std::runtime_error("thread " + std::to_string(i));
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (auto &t : threads) t.join();
  for (auto &e : errors) {
    if (e) report(e);
    else std::printf("no error\n");
  }

  try {
    try {
      throw std::runtime_error("low level");
    } catch (...) {
      std::throw_with_nested(std::logic_error("high level"));
    }
  } catch (const std::exception &e) {
    print_nested(e);
  }
  try {
    Watch w;
    throw 1;
  } catch (int) {
    std::printf("uncaught_exceptions in handler: %d\n", std::uncaught_exceptions());
  }
  return 0;
}
