// bench/bench_csv.cpp: kiln_bench_csv FILE [REPS]: reads FILE with data::read_csv REPS times (default 1)
// and prints one line per read: "wall_seconds cpu_seconds rows cols". bench/bench_csv.py runs it against
// pandas.read_csv on the same file. A plain program rather than a Google Benchmark, so the Python script
// times one read at a time, interleaved with pandas. Depends on kiln::kiln.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>

#include <kiln/kiln.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [REPS]\n", argv[0]);
    return 2;
  }
  const int reps = argc > 2 ? std::atoi(argv[2]) : 1;
  try {
    for (int r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      std::clock_t c0 = std::clock();
      kiln::data::Table t = kiln::data::read_csv(argv[1]);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
      std::printf("%.6f %.6f %lld %lld\n", s, cpu, static_cast<long long>(t.num_rows()),
                  static_cast<long long>(t.num_cols()));
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln_bench_csv: %s\n", e.what());
    return 1;
  }
  return 0;
}
