// lorenz63_generate on the cpu backend: see lorenz63_generate.hpp, or run with --help.
#include "lorenz63_generate.hpp"

int main(int argc, char** argv) try {
  const auto o = lorenz63_generate::parse(argc, argv);
  attractor::context<attractor::cpu> ctx(o.threads);
  return lorenz63_generate::run(ctx, o);
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
