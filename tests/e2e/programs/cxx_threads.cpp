// std::thread, std::mutex, std::condition_variable (a bounded queue between producers and
// consumers), std::async, thread_local and thread-safe function-local statics.
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

class Queue {
  std::mutex m;
  std::condition_variable not_empty, not_full;
  std::queue<int> q;
  bool closed = false;

 public:
  void push(int v) {
    std::unique_lock<std::mutex> lk(m);
    not_full.wait(lk, [&] { return q.size() < 4; });
    q.push(v);
    not_empty.notify_one();
  }
  bool pop(int &v) {
    std::unique_lock<std::mutex> lk(m);
    not_empty.wait(lk, [&] { return !q.empty() || closed; });
    if (q.empty()) return false;
    v = q.front();
    q.pop();
    not_full.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lk(m);
    closed = true;
    not_empty.notify_all();
  }
};

thread_local int tl_count = 0;

static int &shared_counter() {
  static int counter = [] { std::puts("static initialised once"); return 0; }();
  return counter;
}

int main() {
  Queue q;
  std::mutex sum_mutex;
  long sum = 0;
  int items = 0;
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; c++)
    consumers.emplace_back([&] {
      int v;
      while (q.pop(v)) {
        tl_count++;
        std::lock_guard<std::mutex> lk(sum_mutex);
        sum += v;
        items++;
      }
      std::lock_guard<std::mutex> lk(sum_mutex);
      shared_counter() += tl_count;
    });
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; p++)
    producers.emplace_back([&q, p] {
      for (int i = 1; i <= 100; i++) q.push(p * 1000 + i);
    });
  for (auto &t : producers) t.join();
  q.close();
  for (auto &t : consumers) t.join();
  std::printf("items %d sum %ld per-thread total %d main tl %d\n", items, sum, shared_counter(), tl_count);
  auto fut = std::async(std::launch::async, [] {
    long s = 0;
    for (int i = 1; i <= 1000; i++) s += i;
    return s;
  });
  std::printf("async %ld\n", fut.get());
  std::promise<int> pr;
  std::future<int> f2 = pr.get_future();
  std::thread setter([&pr] { pr.set_value(17); });
  std::printf("promise %d\n", f2.get());
  setter.join();
  std::printf("hardware_concurrency > 0: %d\n", std::thread::hardware_concurrency() > 0);
  return 0;
}
