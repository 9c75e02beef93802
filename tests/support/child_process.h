// tests/support/child_process.h: runs part of a test in a fresh process of the same test program (a real
// second process: nothing in memory carries over, as when a training run resumes from a file after a
// restart). A test file registers named roles at static-initialization time; run_child starts
// /proc/self/exe with the role and its arguments in the environment, and the role runs (before any test)
// and exits with its return value.
//
//   const bool registered = kiln::test::register_child_role("train-two-epochs", [](auto& args) { ...; return
//   0; }); EXPECT_EQ(kiln::test::run_child("train-two-epochs", {path}), 0);
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace kiln::test {

using ChildRole = std::function<int(const std::vector<std::string>& args)>;

// Registers a role; returns true (so it can initialize a namespace-scope constant).
bool register_child_role(const std::string& name, ChildRole role);

// Starts the role in a new process and returns its pid (for tests that kill it).
pid_t start_child(const std::string& role, const std::vector<std::string>& args);
// Waits for a child: its exit code, or 128 + signal when a signal ended it.
int wait_child(pid_t pid);
// start_child + wait_child.
int run_child(const std::string& role, const std::vector<std::string>& args);

}  // namespace kiln::test
