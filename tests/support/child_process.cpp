// tests/support/child_process.cpp: test roles in fresh processes (child_process.h). The arguments travel
// in environment variables (KILN_TEST_CHILD_ROLE, KILN_TEST_CHILD_ARGC, KILN_TEST_CHILD_ARG<i>), so the
// test program's own command line (GoogleTest flags) stays untouched.
#include "support/child_process.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>

extern char** environ;

namespace kiln::test {

namespace {

std::map<std::string, ChildRole>& roles() {
  static std::map<std::string, ChildRole> r;
  return r;
}

// Runs in the child before any test: performs the role and exits without running the suite.
class ChildRoleEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* role = std::getenv("KILN_TEST_CHILD_ROLE");
    if (role == nullptr) return;
    std::vector<std::string> args;
    const int argc =
        std::atoi(std::getenv("KILN_TEST_CHILD_ARGC") ? std::getenv("KILN_TEST_CHILD_ARGC") : "0");
    for (int i = 0; i < argc; ++i) {
      const char* a = std::getenv(("KILN_TEST_CHILD_ARG" + std::to_string(i)).c_str());
      args.emplace_back(a != nullptr ? a : "");
    }
    int rc = 2;
    auto it = roles().find(role);
    if (it == roles().end()) {
      std::fprintf(stderr, "child: no role named '%s'\n", role);
    } else {
      try {
        rc = it->second(args);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child role '%s' threw: %s\n", role, e.what());
        rc = 3;
      }
    }
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(rc);
  }
};

}  // namespace

bool register_child_role(const std::string& name, ChildRole role) {
  if (roles().empty()) ::testing::AddGlobalTestEnvironment(new ChildRoleEnvironment);
  roles()[name] = std::move(role);
  return true;
}

pid_t start_child(const std::string& role, const std::vector<std::string>& args) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string s = *e;
    if (s.rfind("KILN_TEST_CHILD_", 0) != 0) env.push_back(s);
  }
  env.push_back("KILN_TEST_CHILD_ROLE=" + role);
  env.push_back("KILN_TEST_CHILD_ARGC=" + std::to_string(args.size()));
  for (size_t i = 0; i < args.size(); ++i)
    env.push_back("KILN_TEST_CHILD_ARG" + std::to_string(i) + "=" + args[i]);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  // The environment runs only when some test is selected: the self-test below, which the role preempts.
  std::string exe = "/proc/self/exe", filter = "--gtest_filter=ChildProcess.RunsARoleInAFreshProcess";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()) != 0) return -1;
  return pid;
}

int wait_child(pid_t pid) {
  if (pid <= 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int run_child(const std::string& role, const std::vector<std::string>& args) {
  return wait_child(start_child(role, args));
}

// Every program that uses child roles also checks the mechanism: the role runs in another process and
// sees its arguments.
const bool self_test_role =
    register_child_role("child-process-self-test", [](const std::vector<std::string>& a) {
      return a.size() == 2 && a[0] == "x y" && a[1].empty() ? 42 : 1;
    });

TEST(ChildProcess, RunsARoleInAFreshProcess) {
  EXPECT_EQ(run_child("child-process-self-test", {"x y", ""}), 42);
  EXPECT_EQ(run_child("no-such-role", {}), 2);
}

}  // namespace kiln::test
