// C++ operators new and delete through the preloaded library: every form works,
// alignment is honoured, and failure still throws std::bad_alloc after calling the
// new-handler (the library hands that path to libstdc++).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

static int g_handler_calls = 0;
static void handler() {
  ++g_handler_calls;
  std::set_new_handler(nullptr);  // next failure throws
}

#define CHECK(c)                                                \
  do {                                                          \
    if (!(c)) {                                                 \
      std::fprintf(stderr, "FAIL line %d: %s\n", __LINE__, #c); \
      return 1;                                                 \
    }                                                           \
  } while (0)

struct alignas(64) Line {
  char c[64];
};
struct alignas(4096) Page {
  char c[100];
};

int main() {
  std::map<std::string, std::vector<int>> m;
  for (int i = 0; i < 100000; ++i) m[std::to_string(i)].push_back(i);
  CHECK(m.size() == 100000);
  m.clear();

  int* a = new int[1000];
  a[999] = 7;
  delete[] a;
  auto* l = new Line[10];
  CHECK(reinterpret_cast<uintptr_t>(l) % 64 == 0);
  delete[] l;
  auto* p = new Page;
  CHECK(reinterpret_cast<uintptr_t>(p) % 4096 == 0);
  delete p;
  auto up = std::make_unique<Line>();
  CHECK(reinterpret_cast<uintptr_t>(up.get()) % 64 == 0);

  volatile size_t huge = SIZE_MAX / 4;
  CHECK(new (std::nothrow) char[huge] == nullptr);
  CHECK(::operator new(huge, std::align_val_t(64), std::nothrow) == nullptr);
  bool thrown = false;
  try {
    char* x = new char[huge];
    x[0] = 1;
  } catch (const std::bad_alloc&) {
    thrown = true;
  }
  CHECK(thrown);
  std::set_new_handler(handler);
  thrown = false;
  try {
    void* x = ::operator new(huge);
    ::operator delete(x);
  } catch (const std::bad_alloc&) {
    thrown = true;
  }
  CHECK(thrown);
  CHECK(g_handler_calls == 1);
  thrown = false;
  try {
    void* x = ::operator new(huge, std::align_val_t(256));
    ::operator delete(x, std::align_val_t(256));
  } catch (const std::bad_alloc&) {
    thrown = true;
  }
  CHECK(thrown);
  std::fprintf(stderr, "cxx_new: ok\n");
  return 0;
}
