#include "support/python_validator.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace kiln::test {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

std::string test_python(std::string* reason) {
  std::string path;
  if (const char* env = std::getenv("KILN_TEST_PYTHON"); env && *env)
    path = env;
  else
    path = KILN_TEST_PYTHON;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path;
  if (reason)
    *reason = "the test virtual environment's python (" + path +
              ") does not exist: run scripts/test-venv.sh (make test does)";
  return {};
}

PythonResult run_python(const std::string& script, const std::vector<std::string>& args, std::string python) {
  PythonResult result;
  if (python.empty()) {
    std::string why;
    python = test_python(&why);
    if (python.empty()) {
      result.output = why;
      return result;
    }
  }
  std::string cmd = shell_quote(python) + " -c " + shell_quote(script);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    result.output = "popen failed for: " + cmd;
    return result;
  }
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool python_has(const std::vector<std::string>& modules, std::string* reason, std::string python) {
  std::ostringstream script;
  for (const auto& m : modules) script << "import " << m << "\n";
  PythonResult r = run_python(script.str(), {}, std::move(python));
  if (r.exit_code == 0) return true;
  if (reason) *reason = "validator not importable (" + r.output + ")";
  return false;
}

}  // namespace kiln::test
