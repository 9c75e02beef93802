// Python snippets that read TensorBoard logs with TensorBoard's own code (the test environment's
// `tensorboard` package), shared by the SummaryWriter and callback tests.
#pragma once

namespace kiln::test {

// Defines load_runs(logdir, raw=False) -> {run: [Event, ...]}: every event file of every run folder, in
// order, as TensorBoard ingests them (EventFileLoader: legacy values migrated to tensors with plugin
// metadata), or with raw=True as written (LegacyEventFileLoader); and scalars(events) -> {tag: [(step,
// float32 value), ...]} from the migrated form, i.e. what TensorBoard's scalar plugin sees.
inline constexpr const char* kTensorBoardLoader = R"PY(
import os, sys, glob, json, struct
import numpy as np
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.util import tensor_util

def load_runs(logdir, raw=False):
    loader = event_file_loader.LegacyEventFileLoader if raw else event_file_loader.EventFileLoader
    runs = {}
    for path in sorted(glob.glob(os.path.join(logdir, '**', '*tfevents*'), recursive=True)):
        run = os.path.relpath(os.path.dirname(path), logdir)
        runs.setdefault(run, []).extend(loader(path).Load())
    return runs

def scalars(events):
    out = {}
    for e in events:
        for v in e.summary.value:
            if v.metadata.plugin_data.plugin_name == 'scalars':
                arr = tensor_util.make_ndarray(v.tensor)
                if arr.shape != () or arr.dtype != np.float32: fail('scalar %s stored as %r' % (v.tag, arr))
                out.setdefault(v.tag, []).append((e.step, np.float32(arr)))
    return out

def f32_bits(x):
    return struct.pack('<f', np.float32(x))

def fail(msg):
    print('FAIL:', msg)
    sys.exit(1)
)PY";

}  // namespace kiln::test
