#include "support/mlflow_server.h"

#include <filesystem>

#include "support/python_validator.h"

namespace kiln::test {

bool MlflowServer::start(std::string* why) {
  if (!python_has({"mlflow"}, why)) return false;
  std::string mlflow = (std::filesystem::path(test_python()).parent_path() / "mlflow").string();
  std::filesystem::create_directories(folder_ + "/artifacts");
  process_ = std::make_unique<ServerProcess>(
      std::vector<std::string>{mlflow, "server", "--backend-store-uri", "sqlite:///" + folder_ + "/mlflow.db",
                               "--artifacts-destination", folder_ + "/artifacts", "--host", "127.0.0.1",
                               "--port", std::to_string(port_), "--workers", "1"},
      folder_ + "/server.log");
  // The first start creates the database schema, and the first request initializes the store: both
  // take a minute on a busy machine. Ready means the REST API answers.
  if (!process_->wait_for_port(port_, 300, why)) return false;
  PythonResult r = run_python(R"PY(
import sys, time, urllib.request
url = sys.argv[1] + '/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default'
deadline = time.time() + 240
while True:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            if resp.status == 200: break
    except Exception as e:
        if time.time() > deadline:
            print('the REST API did not answer:', e); sys.exit(1)
        time.sleep(0.5)
)PY",
                              {uri()});
  if (r.exit_code == 0) return true;
  if (why) *why = r.output + "\nserver log:\n" + process_->log_tail();
  return false;
}

}  // namespace kiln::test
