// What every GMime user here needs: GMime initialised once per process, and owners for a
// GObject reference and a g_malloc'ed string, so no early return leaks. Include it only from a
// translation unit that includes <gmime/gmime.h> itself (GMime's headers are heavy: each user is
// one .cpp, http/mime.cpp and client/mime_build.cpp).
#pragma once

#include <gmime/gmime.h>

#include <mutex>
#include <string>

namespace smtpmock::mime {

inline void init_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

/// Owns one GObject reference.
template <typename T>
class ref {
 public:
  explicit ref(T* p = nullptr) : p_(p) {}
  ~ref() {
    if (p_) g_object_unref(p_);
  }
  ref(const ref&) = delete;
  ref& operator=(const ref&) = delete;
  T* get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  T* p_;
};

/// Owns a g_malloc'ed string.
struct gstring {
  explicit gstring(char* s) : p(s) {}
  ~gstring() { g_free(p); }
  gstring(const gstring&) = delete;
  gstring& operator=(const gstring&) = delete;
  std::string str() const { return p ? std::string(p) : std::string(); }
  char* p;
};

}  // namespace smtpmock::mime
