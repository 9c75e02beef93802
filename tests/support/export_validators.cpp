#include "support/export_validators.h"

#include <cstdio>
#include <sstream>

#include "support/export_models.h"
#include "support/python_validator.h"

namespace kiln::test {
namespace {

const char* kLiteRT = R"PY(
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter
model, xin, shape, expected, labels, chunk = sys.argv[1:7]
shape = [int(s) for s in shape.split(',')]
x = np.fromfile(xin, dtype=np.float32).reshape(shape)
it = Interpreter(model_content=open(model, 'rb').read(), num_threads=1)
sigs = it.get_signature_list()
assert list(sigs) == ['serving_default'], sigs
assert sigs['serving_default']['inputs'] == ['input'], sigs
assert sigs['serving_default']['outputs'] == ['output'], sigs
chunk = int(chunk)
outs = []
for s in range(0, len(x), chunk):
    xb = x[s:s + chunk]
    i = it.get_input_details()[0]
    it.resize_tensor_input(i['index'], list(xb.shape))
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    if i['dtype'] == np.int8:
        sc, zp = i['quantization']
        xb = np.clip(np.round(xb / sc + zp), -128, 127).astype(np.int8)
    it.set_tensor(i['index'], xb)
    it.invoke()
    y = it.get_tensor(o['index'])
    if o['dtype'] == np.int8:
        sc, zp = o['quantization']
        y = (y.astype(np.float32) - zp) * sc
    outs.append(np.array(y, dtype=np.float32))
y = np.concatenate(outs)
if expected != '-':
    e = np.fromfile(expected, dtype=np.float32).reshape(y.shape)
    print('max_abs=%.9g' % np.abs(y - e).max())
if labels != '-':
    l = np.fromfile(labels, dtype=np.int64)
    print('accuracy=%.6f' % (y.reshape(len(l), -1).argmax(1) == l).mean())
)PY";

const char* kOnnx = R"PY(
import sys, numpy as np, onnx, onnxruntime as ort
model, xin, shape, expected, labels = sys.argv[1:6]
m = onnx.load(model)
onnx.checker.check_model(m, full_check=True)
assert m.opset_import[0].version >= 17, m.opset_import
assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'
shape = [int(s) for s in shape.split(',')]
x = np.fromfile(xin, dtype=np.float32).reshape(shape)
so = ort.SessionOptions()
so.intra_op_num_threads = 1
s = ort.InferenceSession(model, so, providers=['CPUExecutionProvider'])
name = s.get_inputs()[0].name
y = np.concatenate([s.run(None, {name: x[i:i + 1000]})[0] for i in range(0, len(x), 1000)])
if expected != '-':
    e = np.fromfile(expected, dtype=np.float32).reshape(y.shape)
    print('max_abs=%.9g' % np.abs(y - e).max())
if labels != '-':
    l = np.fromfile(labels, dtype=np.int64)
    print('accuracy=%.6f' % (y.reshape(len(l), -1).argmax(1) == l).mean())
)PY";

std::string shape_arg(const Tensor& t) {
  std::string s;
  for (int64_t d : t.shape()) s += (s.empty() ? "" : ",") + std::to_string(d);
  return s;
}

InterpreterResult parse(const PythonResult& r) {
  InterpreterResult out;
  out.output = r.output;
  out.ok = r.exit_code == 0;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    std::sscanf(line.c_str(), "max_abs=%lf", &out.max_abs);
    std::sscanf(line.c_str(), "accuracy=%lf", &out.accuracy);
  }
  return out;
}

}  // namespace

InterpreterResult run_litert(const std::string& model, const Tensor& x, const Tensor& expected,
                             const Tensor& labels, int64_t chunk) {
  std::string why;
  if (!python_has({"numpy", "ai_edge_litert.interpreter"}, &why)) return {false, why};
  const std::string dir = model + ".data";
  write_raw(model + ".x", x);
  if (expected.defined()) write_raw(model + ".expected", expected);
  if (labels.defined()) write_raw(model + ".labels", labels);
  return parse(
      run_python(kLiteRT, {model, model + ".x", shape_arg(x), expected.defined() ? model + ".expected" : "-",
                           labels.defined() ? model + ".labels" : "-", std::to_string(chunk)}));
}

InterpreterResult run_onnxruntime(const std::string& model, const Tensor& x, const Tensor& expected,
                                  const Tensor& labels) {
  std::string why;
  if (!python_has({"numpy", "onnx", "onnxruntime"}, &why)) return {false, why};
  write_raw(model + ".x", x);
  if (expected.defined()) write_raw(model + ".expected", expected);
  if (labels.defined()) write_raw(model + ".labels", labels);
  return parse(
      run_python(kOnnx, {model, model + ".x", shape_arg(x), expected.defined() ? model + ".expected" : "-",
                         labels.defined() ? model + ".labels" : "-"}));
}

}  // namespace kiln::test
