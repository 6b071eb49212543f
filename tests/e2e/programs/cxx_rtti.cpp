// RTTI: typeid, type_info::name/before/hash, dynamic_cast (down, cross, to void*, failing),
// std::bad_cast and std::bad_typeid. (Names of library types differ between libc++ and libstdc++:
// only the program's own and builtin types are printed.)
#include <cstdio>
#include <cstring>
#include <memory>
#include <typeinfo>
#include <vector>

struct Shape { virtual ~Shape() = default; virtual double area() const = 0; };
struct Named { virtual ~Named() = default; virtual const char *name() const { return "named"; } };
struct Square : Shape, Named {
  double s;
  explicit Square(double v) : s(v) {}
  double area() const override { return s * s; }
  const char *name() const override { return "square"; }
};
struct Circle : Shape {
  double r;
  explicit Circle(double v) : r(v) {}
  double area() const override { return 3.0 * r * r; }
};
struct Unit : Circle { Unit() : Circle(1) {} };
template <class T> struct Box { T v; };

int main() {
  std::vector<std::unique_ptr<Shape>> shapes;
  shapes.emplace_back(new Square(2));
  shapes.emplace_back(new Circle(1));
  shapes.emplace_back(new Unit());
  for (auto &sp : shapes) {
    Shape *s = sp.get();
    std::printf("%s area %.1f", typeid(*s).name(), s->area());
    if (auto *n = dynamic_cast<Named *>(s)) std::printf(" cross-cast to Named: %s", n->name());
    if (dynamic_cast<Circle *>(s)) std::printf(" is a Circle");
    if (dynamic_cast<Unit *>(s)) std::printf(" is a Unit");
    std::printf(" most-derived %s\n", dynamic_cast<void *>(s) == static_cast<void *>(s) ? "first" : "offset");
  }
  std::printf("same type: %d %d\n", typeid(*shapes[1]) == typeid(Circle), typeid(*shapes[2]) == typeid(Circle));
  std::printf("names: %s %s %s %s\n", typeid(int).name(), typeid(const char *).name(),
              typeid(Box<int>).name(), typeid(Square).name());
  std::printf("hash equal: %d\n", typeid(Square).hash_code() == typeid(*shapes[0]).hash_code());
  try {
    Shape &s = *shapes[1];
    Square &sq = dynamic_cast<Square &>(s);
    std::printf("no throw?! %f\n", sq.s);
  } catch (const std::bad_cast &e) {
    std::printf("bad_cast caught\n");
  }
  try {
    Shape *null = nullptr;
    std::printf("%s\n", typeid(*null).name());
  } catch (const std::bad_typeid &) {
    std::printf("bad_typeid caught\n");
  }
  return 0;
}
