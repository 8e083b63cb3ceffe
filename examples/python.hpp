// The python3 the examples' figure scripts run with (nvcc-safe: the cuda example's figure uses it too).
#pragma once

#include <attractor/core/error.hpp>
#include <cstdlib>
#include <string>

namespace examples {

/// The first python3 that imports matplotlib, or "" where none does. The python3 first on PATH (a virtual
/// environment's, a pyenv's) may lack matplotlib where Debian's has it, so /usr/bin/python3 is tried too.
inline std::string python_with_matplotlib() {
  for (const char* candidate : {"python3", "/usr/bin/python3"})
    if (std::system(attractor::detail::concat(candidate, " -c 'import matplotlib' >/dev/null 2>&1").c_str()) == 0)
      return candidate;
  return "";
}

}  // namespace examples
