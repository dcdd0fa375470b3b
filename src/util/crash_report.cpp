#include "util/crash_report.h"

#include <fcntl.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <mutex>

namespace dtrain {

namespace {

// Only async-signal-safe calls from here on (open, read, write, sigaction): the heap or a lock
// may be what broke.
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
struct sigaction g_previous[std::size(kSignals)];
char g_who[96];

// A line of text built without the heap.
class Line {
 public:
  Line& text(const char* s) {
    while (*s && n_ < sizeof buf_ - 1) buf_[n_++] = *s++;
    return *this;
  }
  Line& hex(uintptr_t v) {
    char digits[2 * sizeof v];
    int k = 0;
    do digits[k++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    text("0x");
    while (k > 0 && n_ < sizeof buf_ - 1) buf_[n_++] = digits[--k];
    return *this;
  }
  void print() {
    buf_[n_++] = '\n';
    for (std::size_t off = 0; off < n_;) {
      const ssize_t w = write(STDERR_FILENO, buf_ + off, n_ - off);
      if (w <= 0) return;
      off += static_cast<std::size_t>(w);
    }
  }

 private:
  char buf_[640];
  std::size_t n_ = 0;
};

uintptr_t parse_hex(const char*& p) {
  uintptr_t v = 0;
  for (;; ++p) {
    const char c = *p;
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return v;
    v = v * 16 + static_cast<uintptr_t>(d);
  }
}

// Appends "file+0xOFFSET" for addr from its line of /proc/self/maps ("start-end perms offset dev
// inode path"), or "(not in any mapping)".
void append_place(Line& line, uintptr_t addr) {
  const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return void(line.text("(no /proc/self/maps)"));
  char buf[4096], row[512];
  std::size_t len = 0;
  bool found = false;
  for (ssize_t got; !found && (got = read(fd, buf, sizeof buf)) > 0;) {
    for (ssize_t i = 0; i < got && !found; ++i) {
      if (buf[i] != '\n') {
        if (len < sizeof row - 1) row[len++] = buf[i];
        continue;
      }
      row[len] = '\0';
      len = 0;
      const char* p = row;
      const uintptr_t start = parse_hex(p);
      const uintptr_t end = parse_hex(++p);
      if (addr < start || addr >= end) continue;
      p += 6;  // " rwxp "
      const uintptr_t offset = parse_hex(p);
      const char* path = std::strchr(p, '/');
      line.text(path ? path : "[anonymous: JIT code?]").text("+").hex(addr - start + offset);
      found = true;
    }
  }
  close(fd);
  if (!found) line.text("(not in any mapping)");
}

extern "C" void on_crash(int sig, siginfo_t* info, void* context) {
  Line head;
  head.text("dtrain: [").text(g_who).text("] crashed: ").text(sigabbrev_np(sig));
  head.text(" at address ").hex(reinterpret_cast<uintptr_t>(info->si_addr));
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(context);
  const auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  head.text("; instruction ").hex(pc).text(" ");
  append_place(head, pc);
  head.print();
  if (pc == 0) {  // a call to address 0 pushed its return address and jumped there
    const uintptr_t ret = *reinterpret_cast<const uintptr_t*>(uc->uc_mcontext.gregs[REG_RSP]);
    Line caller;
    caller.text("dtrain: [").text(g_who).text("] a call to address 0, returning to ").hex(ret);
    caller.text(" ");
    append_place(caller, ret);
    caller.print();
  }
#else
  (void)context;
  head.print();
#endif
  // Hand over: a faulting instruction runs again and the previous handler (or the default
  // action) takes the same signal; a signal another process sent is sent again (it stays
  // pending until this handler returns).
  for (std::size_t i = 0; i < std::size(kSignals); ++i) {
    if (kSignals[i] == sig) sigaction(sig, &g_previous[i], nullptr);
  }
  if (info->si_code <= 0) raise(sig);
}

}  // namespace

void install_crash_report(const char* who) {
  static std::once_flag once;
  std::call_once(once, [who] {
    std::strncpy(g_who, who, sizeof g_who - 1);
    struct sigaction sa = {};
    sa.sa_sigaction = on_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    for (std::size_t i = 0; i < std::size(kSignals); ++i) {
      sigaction(kSignals[i], &sa, &g_previous[i]);
    }
  });
}

}  // namespace dtrain
