// A server started by a test (TensorBoard, MLflow) in its own process group, killed with the whole group
// when the object goes away, so a failing test never leaves a server behind. The child also gets
// SIGKILL if the test program itself dies (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>
#include <string>
#include <vector>

namespace kiln::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int free_port();

class ServerProcess {
 public:
  // Starts argv[0] (looked up on PATH when it has no '/') with `argv`; stdout and stderr go to `log_file`.
  ServerProcess(std::vector<std::string> argv, std::string log_file);
  ~ServerProcess() { kill(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Waits until 127.0.0.1:port accepts connections; false (with the log's tail in `why`) on timeout or
  // when the server exits first.
  bool wait_for_port(int port, double timeout_s, std::string* why);
  // SIGKILL to the whole process group, then reaps the child. Idempotent.
  void kill();
  bool running() const { return pid_ > 0; }
  std::string log_tail(size_t bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  std::string log_file_;
};

}  // namespace kiln::test
