// Jobs that must end by themselves, and the multi-node path: test_distributed launches mpirun on the
// scenarios of mpi_scenarios (scenarios.cpp) and checks the exit status, the printed messages and that
// the job ended well inside its bound (a hang would run into mpirun's --timeout instead). The
// two-namespace test builds two network namespaces joined by a veth pair and runs one rank in each, with
// MPI over TCP between them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <kiln/kiln.h>

#include "support/helpers.h"

namespace {

struct Result {
  int status = -1;
  std::string output;
  double seconds = 0;
};

Result run(const std::string& command) {
  Result r;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "cannot run: " << command;
    return r;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int st = pclose(pipe);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::string mpirun(int np, const std::string& scenario, const std::string& env = "") {
  return env + " " KILN_MPIEXEC " --allow-run-as-root --oversubscribe --bind-to none --timeout 120 -np " +
         std::to_string(np) + " " KILN_MPI_SCENARIOS " " + scenario;
}

// The collective timeout of the failing jobs: long enough that ending by it would show.
const std::string kSlowTimeout = "KILN_DIST_TIMEOUT_S=100";

}  // namespace

TEST(Distributed, BuiltWithMpi) { EXPECT_TRUE(kiln::distributed::is_available()); }

TEST(Distributed, CallsBeforeInitNameTheFix) {
  EXPECT_FALSE(kiln::distributed::is_initialized());
  kiln::Tensor t = kiln::zeros({2});
  EXPECT_CONTAINS(kiln::testing::error_of([&] { kiln::distributed::all_reduce(t); }),
                  "call "
                  "distributed::init_process_group() first");
}

TEST(Distributed, ARankThatThrowsEndsTheJobWithItsMessage) {
  for (int np : {2, 3}) {
    const Result r = run(mpirun(np, "throw", kSlowTimeout));
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_CONTAINS(r.output,
                    "rank " + std::to_string(np - 1) + " of " + std::to_string(np) + " terminating");
    EXPECT_CONTAINS(r.output, "scenario: rank " + std::to_string(np - 1) + " found its shard corrupt");
    // Ended by MPI_Abort, not by the 100 s collective timeout or mpirun's 120 s one.
    EXPECT_LT(r.seconds, 60) << r.output;
  }
}

TEST(Distributed, ARankThatExitsWithAnErrorEndsTheJob) {
  const Result r = run(mpirun(2, "exit", kSlowTimeout));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "scenario: rank 1 gives up");
  EXPECT_LT(r.seconds, 60) << r.output;
}

TEST(Distributed, ModelsThatDifferFailOnEveryRank) {
  const Result r = run(mpirun(2, "models-differ", kSlowTimeout));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "the ranks' models differ");
  EXPECT_CONTAINS(r.output, "f32 [4, 8] on rank 0 but f32 [5, 8] on rank 1");
  EXPECT_LT(r.seconds, 60) << r.output;
}

TEST(Distributed, ACollectiveThatNeverCompletesTimesOut) {
  const Result r = run(mpirun(2, "stuck", "KILN_DIST_TIMEOUT_S=3"));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "did not finish within 3 s");
  EXPECT_LT(r.seconds, 60) << r.output;
}

namespace {
// Two network namespaces joined by a veth pair; removed (with the pair) when this goes out of scope,
// also after a failed assertion.
struct TwoHosts {
  std::string a, b, why_not;
  bool up = false;
  TwoHosts() {
    const std::string id = std::to_string(getpid());
    a = "kiln_a" + id;
    b = "kiln_b" + id;
    if (geteuid() != 0) {
      why_not = "creating network namespaces needs root (CAP_SYS_ADMIN)";
      return;
    }
    if (run("command -v ip").status != 0) {
      why_not = "the ip command (iproute2) is not installed";
      return;
    }
    const std::string va = "kva" + id, vb = "kvb" + id;
    const std::string setup =
        "set -e; ip netns add " + a + "; ip netns add " + b + "; ip link add " + va +
        " type veth peer name " + vb + "; ip link set " + va + " netns " + a + "; ip link set " + vb +
        " netns " + b + "; ip -n " + a + " addr add 10.77.0.1/24 dev " + va + "; ip -n " + b +
        " addr add 10.77.0.2/24 dev " + vb + "; ip -n " + a + " link set " + va + " up; ip -n " + b +
        " link set " + vb + " up; ip -n " + a + " link set lo up; ip -n " + b + " link set lo up";
    const Result r = run(setup);
    if (r.status != 0) {
      why_not = "cannot create network namespaces here: " + r.output;
      return;
    }
    up = true;
  }
  ~TwoHosts() {
    run("ip netns del " + a);
    run("ip netns del " + b);
  }
};
}  // namespace

TEST(Distributed, TwoNetworkNamespacesRunOneRankEachOverTcp) {
  TwoHosts hosts;
  if (!hosts.up) GTEST_SKIP() << hosts.why_not;
  // mpirun runs in the first namespace; it starts the second host's daemon through this agent (in
  // place of ssh), which runs the command in the second namespace.
  const auto dir = std::filesystem::temp_directory_path() / ("kiln_netns_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string agent = (dir / "agent.sh").string();
  {
    std::ofstream f(agent);
    f << "#!/bin/sh\n# Called by mpirun as: agent HOST COMMAND...\nshift\nexec ip netns exec " << hosts.b
      << " sh -c \"$*\"\n";
  }
  std::filesystem::permissions(agent, std::filesystem::perms::owner_all);
  const std::string cmd =
      "ip netns exec " + hosts.a +
      " " KILN_MPIEXEC
      " --allow-run-as-root --oversubscribe --timeout 120 -np 2 --host 10.77.0.1,10.77.0.2"
      " --mca plm_rsh_agent " +
      agent +
      " --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24"
      " --mca oob_tcp_if_include 10.77.0.0/24 -x KILN_DIST_TIMEOUT_S -x OMP_NUM_THREADS " +
      KILN_MPI_SCENARIOS " two-hosts";
  const Result r = run(cmd);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;
  // Each rank is the only one on its host, and they live in different network namespaces.
  EXPECT_CONTAINS(r.output, "rank 0 local_rank 0");
  EXPECT_CONTAINS(r.output, "rank 1 local_rank 0");
  const auto ns_of = [&](const std::string& who) {
    const auto at = r.output.find(who);
    if (at == std::string::npos) return std::string();
    const auto start = r.output.find("netns ", at) + 6;
    return r.output.substr(start, r.output.find('\n', start) - start);
  };
  EXPECT_NE(ns_of("rank 0 local_rank"), ns_of("rank 1 local_rank")) << r.output;
  EXPECT_CONTAINS(r.output, "sum 3");
}
