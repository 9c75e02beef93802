# Runs an exported model in its interpreter (LiteRT for .tflite, ONNX Runtime for .onnx; one thread):
# the CPU latency at batch 1 (median of RUNS invocations after warm-up; RUNS 0 skips it) and, with
# labels, the file's accuracy on the images. Used by kiln_bench_export, and by the demo with the test
# environment's python:  export_run.py MODEL X_RAW SHAPE LABELS_RAW|- RUNS
# X_RAW: float32 images (N, ...) in kiln's layout; LABELS_RAW: int64 labels.
import sys
import time

import numpy as np

model, xin, shape, labels, runs = sys.argv[1:6]
shape = [int(s) for s in shape.split(",")]
x = np.fromfile(xin, dtype=np.float32).reshape(shape)

if model.endswith(".onnx"):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    if int(runs) > 0:
        for _ in range(20):
            s.run(None, {name: x[:1]})
        times = []
        for _ in range(int(runs)):
            t = time.perf_counter()
            s.run(None, {name: x[:1]})
            times.append(time.perf_counter() - t)
        print("latency_us=%.3f" % (np.median(times) * 1e6))
    if labels != "-":
        l = np.fromfile(labels, dtype=np.int64)
        y = np.concatenate([s.run(None, {name: x[i : i + 1000]})[0] for i in range(0, len(x), 1000)])
        print("accuracy=%.6f" % (y.reshape(len(l), -1).argmax(1) == l).mean())
    sys.exit(0)

from ai_edge_litert.interpreter import Interpreter

it = Interpreter(model_content=open(model, "rb").read(), num_threads=1)


def prepare(batch):
    i = it.get_input_details()[0]
    it.resize_tensor_input(i["index"], [len(batch)] + list(batch.shape[1:]))
    it.allocate_tensors()
    i = it.get_input_details()[0]
    if i["dtype"] == np.int8:
        sc, zp = i["quantization"]
        batch = np.clip(np.round(batch / sc + zp), -128, 127).astype(np.int8)
    return i["index"], batch


if int(runs) > 0:
    idx, one = prepare(x[:1])
    it.set_tensor(idx, one)
    for _ in range(20):
        it.invoke()
    times = []
    for _ in range(int(runs)):
        t = time.perf_counter()
        it.invoke()
        times.append(time.perf_counter() - t)
    print("latency_us=%.3f" % (np.median(times) * 1e6))
if labels != "-":
    l = np.fromfile(labels, dtype=np.int64)
    correct = 0
    for s in range(0, len(x), 1000):
        idx, b = prepare(x[s : s + 1000])
        it.set_tensor(idx, b)
        it.invoke()
        o = it.get_output_details()[0]
        y = it.get_tensor(o["index"]).astype(np.float32)  # argmax needs no dequantization
        correct += int((y.reshape(len(b), -1).argmax(1) == l[s : s + 1000]).sum())
    print("accuracy=%.6f" % (correct / len(l)))
