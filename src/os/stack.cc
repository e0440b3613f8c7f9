#include "stack.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mm {

BacktraceFn g_backtrace;

namespace {
using GetIpFn = _Unwind_Ptr (*)(_Unwind_Context*);
GetIpFn g_get_ip;
uintptr_t g_self_lo, g_self_hi;  // this library's code; empty when linked into the program
uintptr_t g_main_base;           // the program's first mapped byte

}  // namespace

_Unwind_Reason_Code stack_on_frame(_Unwind_Context* ctx, void* arg) {
  auto* c = static_cast<StackCapture*>(arg);
  uintptr_t pc = g_get_ip(ctx);
  if (c->in_self) {
    if (pc - g_self_lo < g_self_hi - g_self_lo || !pc) return _URC_NO_REASON;
    c->in_self = false;
  }
  if (!pc) return _URC_END_OF_STACK;
  c->pcs[c->n++] = pc;
  return c->n < c->max ? _URC_NO_REASON : _URC_END_OF_STACK;
}

namespace {
// Finds the executable segment holding this code, and the program's base.
int find_self(dl_phdr_info* info, size_t, void*) {
  auto me = reinterpret_cast<uintptr_t>(&stack_on_frame);
  bool is_main = !info->dlpi_name || !info->dlpi_name[0];
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (is_main && ph.p_offset == 0 && !g_main_base) g_main_base = lo;
    if ((ph.p_flags & PF_X) && me - lo < ph.p_memsz && !is_main) {
      g_self_lo = lo;
      g_self_hi = lo + ph.p_memsz;
    }
  }
  return 0;
}
}  // namespace

bool stack_init() {
  if (g_backtrace) return true;
  dl_iterate_phdr(find_self, nullptr);
  void* bt = dlsym(RTLD_DEFAULT, "_Unwind_Backtrace");
  void* ip = dlsym(RTLD_DEFAULT, "_Unwind_GetIP");
  if (!bt || !ip) {
    if (void* h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_GLOBAL)) {
      bt = dlsym(h, "_Unwind_Backtrace");
      ip = dlsym(h, "_Unwind_GetIP");
    }
  }
  if (!bt || !ip) return false;
  g_get_ip = reinterpret_cast<GetIpFn>(ip);
  __atomic_store_n(&g_backtrace, reinterpret_cast<BacktraceFn>(bt), __ATOMIC_RELEASE);
  uintptr_t warm[4];
  stack_capture(warm, 4);  // the unwinder's own first-use work, now
  return true;
}

namespace {
// The function of a file's own symbol table (.symtab) that covers the address
// rel (relative to the file's link addresses), copied into name; false if none.
bool symtab_lookup(const char* path, uintptr_t rel, char* name, size_t cap, uintptr_t* off) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  void* map = fstat(fd, &st) == 0 && st.st_size > 0
                  ? mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                  : MAP_FAILED;
  close(fd);
  if (map == MAP_FAILED) return false;
  const char* base = static_cast<const char*>(map);
  size_t size = static_cast<size_t>(st.st_size);
  bool found = false;
  auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
  if (size >= sizeof *eh && __builtin_memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
      eh->e_shoff + size_t{eh->e_shnum} * sizeof(ElfW(Shdr)) <= size) {
    auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum && !found; ++i) {
      if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
      const ElfW(Shdr)& strs = sh[sh[i].sh_link];
      if (sh[i].sh_offset + sh[i].sh_size > size || strs.sh_offset + strs.sh_size > size) continue;
      auto* sym = reinterpret_cast<const ElfW(Sym)*>(base + sh[i].sh_offset);
      size_t n = sh[i].sh_size / sizeof(ElfW(Sym));
      for (size_t k = 0; k < n; ++k) {
        if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC || rel - sym[k].st_value >= sym[k].st_size)
          continue;
        if (sym[k].st_name >= strs.sh_size) break;
        const char* s = base + strs.sh_offset + sym[k].st_name;
        size_t len = 0;
        while (len + 1 < cap && s + len < base + strs.sh_offset + strs.sh_size && s[len]) ++len;
        __builtin_memcpy(name, s, len);
        name[len] = 0;
        *off = rel - sym[k].st_value;
        found = true;
        break;
      }
    }
  }
  munmap(map, size);
  return found;
}
}  // namespace

void stack_describe(Out& out, uintptr_t pc) {
  uintptr_t at = pc - 1;  // a return address: the call is the byte before
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(at), &info)) {
    out.hex(pc, 0);
    return;
  }
  auto base = reinterpret_cast<uintptr_t>(info.dli_fbase);
  const char* module = info.dli_fname && info.dli_fname[0] ? info.dli_fname : "?";
  bool is_main = base == g_main_base;
  char name[256];
  uintptr_t off = 0;
  const char* fn = nullptr;
  if (info.dli_sname && info.dli_saddr) {
    fn = info.dli_sname;
    off = at - reinterpret_cast<uintptr_t>(info.dli_saddr);
  } else {
    // Not exported: the file's own symbol table. Link addresses are relative to
    // the base, except in a program not built as PIE (its base is its link address).
    auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
    uintptr_t rel = eh->e_type == ET_EXEC ? at : at - base;
    if (symtab_lookup(is_main ? "/proc/self/exe" : module, rel, name, sizeof name, &off)) fn = name;
  }
  if (fn)
    out.str(fn).str("+").hex(off, 0).str(" (").str(module).str(")");
  else
    out.str(module).str("+").hex(pc - base, 0);
}

bool stack_libc_internal(uintptr_t pc) {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(pc - 1), &info) || !info.dli_fname) return false;
  const char* file = info.dli_fname;
  for (const char* p = info.dli_fname; *p; ++p)
    if (*p == '/') file = p + 1;
  if (__builtin_strncmp(file, "ld-linux", 8) == 0) return true;  // the loader's own
  if (__builtin_strncmp(file, "libc.so", 7) != 0) return false;
  // In libc: its internal functions are not exported (no name), and its blocks
  // kept for the process's life come from a few families (valgrind suppresses
  // the same). strdup, asprintf and the like are the program's.
  const char* fn = info.dli_sname;
  if (!fn) return true;
  static constexpr const char* kInternal[] = {"_IO_",      "_nl_",    "__tz", "tzset",
                                              "setlocale", "__libc_", "_dl_", "__nss_"};
  for (const char* prefix : kInternal)
    if (__builtin_strncmp(fn, prefix, __builtin_strlen(prefix)) == 0) return true;
  return false;
}

}  // namespace mm
