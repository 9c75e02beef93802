// A real `mlflow server` for tests: the test environment's MLflow on 127.0.0.1 with a SQLite backend and
// served artifacts in a folder the caller owns; killed (with its workers) when the object goes away.
#pragma once

#include <memory>
#include <string>

#include "support/server_process.h"

namespace kiln::test {

class MlflowServer {
 public:
  // `folder` holds mlflow.db, artifacts/ and the server log. `port` 0 picks a free one.
  explicit MlflowServer(std::string folder, int port = 0) : folder_(std::move(folder)), port_(port) {
    if (port_ == 0) port_ = free_port();
  }
  // Starts the server and waits until it listens; false with the reason (and its log) otherwise.
  bool start(std::string* why);
  void kill() {
    if (process_) process_->kill();
  }
  int port() const { return port_; }
  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string folder_;
  int port_;
  std::unique_ptr<ServerProcess> process_;
};

}  // namespace kiln::test
