#pragma once

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace riskd::daemon {

/// Gives the free pages of the heap back to the system; call it after a
/// large allocation that is gone (a config's YAML tree, a replaced engine).
/// glibc returns freed memory only from the top of an arena, so without it
/// a 10,000-borrower config left ~270 MB of freed heap resident for the life
/// of the process (docs/operations.md, Sizing). Costs a walk of every
/// arena's free chunks, so it belongs after rare events, never per tick. A
/// no-op off glibc.
inline void release_free_heap() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace riskd::daemon
