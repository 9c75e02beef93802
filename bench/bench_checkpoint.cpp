// bench/bench_checkpoint.cpp: HDF5 weights files (nn/io) against the physical limit of the disk: save_weights
// vs writing the same bytes with fwrite + fsync, and read_group (the checked, checksum-verified reader that
// load_weights uses) vs fread of the same bytes, for a 100 MB and a 1 GB state dict, side by side and
// interleaved (the order alternates each round); plus the peak extra memory of a save (VmHWM above the RSS
// before it, after resetting the high-water mark), which streaming keeps below one tensor.
//   build/cpu/bench/kiln_bench_checkpoint [ROUNDS=3] [FOLDER=/tmp]
// Reads are of files just written (the page cache holds them, for kiln and fread alike), into fresh memory
// for both: kiln's allocator cache is emptied first and glibc's mmap threshold is pinned (see main), so each
// reader takes the same first-touch page faults (~1.5 ms/MB on the development VM; a reader given recycled
// blocks would skip them, which once made fread look 4x faster than a kiln load of the same bytes).
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <kiln/kiln.h>
#include <kiln/tensor/cpu_allocator.h>

using namespace kiln;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::strlen(key));
  return -1;
}
// Resets VmHWM to the current RSS (Linux >= 4.0).
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

void raw_write(const std::string& path, const StateDict& state) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  for (const auto& [name, t] : state)
    std::fwrite(t.data_ptr(), 1, static_cast<size_t>(t.numel()) * dtype_size(t.dtype()), f);
  std::fflush(f);
  ::fsync(::fileno(f));
  std::fclose(f);
}

int64_t raw_read(const std::string& path, const StateDict& shapes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  int64_t total = 0;
  // Every tensor is kept, as a load keeps them (fresh memory for each, like read_group's).
  std::vector<Tensor> kept;
  for (const auto& [name, t] : shapes) {
    Tensor dst = kept.emplace_back(empty(t.shape(), {.dtype = t.dtype()}));
    total += static_cast<int64_t>(
        std::fread(dst.data_ptr(), 1, static_cast<size_t>(dst.numel()) * dtype_size(dst.dtype()), f));
  }
  std::fclose(f);
  return total;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void run(const char* label, int layers, int rounds, const std::string& folder) {
  manual_seed(0);
  nn::Sequential model;
  for (int i = 0; i < layers; ++i) model.push_back(nn::Linear(2048, 2048));
  const StateDict state = model.state_dict();
  int64_t bytes = 0, largest = 0;
  for (const auto& [n, t] : state) {
    const int64_t b = t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
    bytes += b, largest = std::max(largest, b);
  }
  const std::string h5 = folder + "/kiln_bench_checkpoint.h5", raw = folder + "/kiln_bench_checkpoint.raw";
  std::vector<double> save_s, fwrite_s, load_s, fread_s;
  int64_t peak_extra_kb = 0;
  for (int r = 0; r < rounds; ++r) {
    auto kiln_side = [&] {
      reset_peak();
      const int64_t before = status_kb("VmRSS:");
      double t0 = now();
      nn::io::save_weights(h5, model);
      save_s.push_back(now() - t0);
      peak_extra_kb = std::max(peak_extra_kb, status_kb("VmHWM:") - before);
      detail::cpu_empty_cache();  // both readers start from fresh (not yet faulted-in) memory
      t0 = now();
      StateDict back = nn::io::read_group(h5, "model");
      load_s.push_back(now() - t0);
      if (back.size() != state.size()) std::abort();
    };
    auto raw_side = [&] {
      double t0 = now();
      raw_write(raw, state);
      fwrite_s.push_back(now() - t0);
      detail::cpu_empty_cache();
      t0 = now();
      if (raw_read(raw, state) != bytes) std::abort();
      fread_s.push_back(now() - t0);
    };
    if (r % 2 == 0)
      kiln_side(), raw_side();
    else
      raw_side(), kiln_side();
  }
  std::remove(h5.c_str());
  std::remove(raw.c_str());
  const double mb = static_cast<double>(bytes) / 1e6;
  const double s = median(save_s), w = median(fwrite_s), l = median(load_s), rd = median(fread_s);
  std::printf(
      "| %s (%.0f MB, %zu tensors) | %.0f | %.0f | **%.2fx** | %.0f | %.0f | **%.2fx** | %.1f MB (largest "
      "tensor %.1f MB) |\n",
      label, mb, state.size(), mb / s, mb / w, w / s, mb / l, mb / rd, rd / l, peak_extra_kb / 1024.0,
      largest / 1048576.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // Every tensor-sized block comes from mmap and goes back with munmap, so each reader gets fresh pages as
  // a new process would. glibc otherwise raises its mmap threshold after the first free and serves later
  // blocks from recycled heap memory, to whichever reader happens to run second.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const std::string folder = argc > 2 ? argv[2] : "/tmp";
  std::printf("median of %d rounds, MB/s (1 MB = 1e6 bytes)\n\n", rounds);
  std::printf(
      "| state dict | save_weights | fwrite+fsync | save/raw | read_group (verified) | fread | load/raw | "
      "peak extra memory in save |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  run("100 MB", 6, rounds, folder);
  run("1 GB", 60, rounds, folder);
  return 0;
}
