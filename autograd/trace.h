// kiln/autograd/trace.h: the hook through which an exporter captures one forward pass at the op layer
// (as torch.export and ONNX tracing do). While a Tracer is installed on a thread, every traced op reports
// its inputs, output and attributes once; ops it calls internally are part of it and stay silent, so a
// composite such as linear or mean arrives as one op. Every recorded autograd node is also reported, so
// the tracer can name an op that has no trace hook (and so cannot be exported) and where it ran.
// With no tracer installed an op pays one thread-local load and a branch. Depends on tensor.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::autograd::trace {

using AttrValue = std::variant<int64_t, double, std::vector<int64_t>>;
using Attrs = std::vector<std::pair<std::string, AttrValue>>;

class Tracer {
 public:
  virtual ~Tracer() = default;
  // One traced op: `op` names it (the op_list.h name), `inputs` are its tensor operands in order
  // (undefined where an optional operand is absent).
  virtual void on_op(const char* op, const std::vector<Tensor>& inputs, const Tensor& output,
                     const Attrs& attrs) = 0;
  // An autograd node recorded outside any traced op: `name` is the node's op name.
  virtual void on_node(const char* name, const Tensor& output) = 0;

 private:
  friend class OpScope;
  friend void report_node(const char*, const Tensor&);
  int depth_ = 0;  // traced ops running now on this thread (nested calls)
};

namespace detail {
extern thread_local constinit Tracer* t_tracer;
}

// Installs `tracer` on this thread for its lifetime (nesting restores the previous one).
class Session {
 public:
  explicit Session(Tracer& tracer) : prev_(detail::t_tracer) { detail::t_tracer = &tracer; }
  ~Session() { detail::t_tracer = prev_; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  Tracer* prev_;
};

// Marks the extent of one traced op. Use:
//   trace::OpScope trace("relu");
//   Tensor y = ...;
//   if (trace) trace.report({x}, y, {...});
// The scope is true only for the outermost traced op while a tracer is installed.
class OpScope {
 public:
  explicit OpScope(const char* op) : op_(op), tracer_(detail::t_tracer) {
    if (tracer_) ++tracer_->depth_;
  }
  ~OpScope() {
    if (tracer_) --tracer_->depth_;
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;
  explicit operator bool() const { return tracer_ != nullptr && tracer_->depth_ == 1; }
  void report(const std::vector<Tensor>& inputs, const Tensor& output, const Attrs& attrs = {}) const {
    tracer_->on_op(op_, inputs, output, attrs);
  }

 private:
  const char* op_;
  Tracer* tracer_;
};

// What a traced op reports: its tensor operands and its attributes.
struct OpRecord {
  std::vector<Tensor> inputs;
  Attrs attrs = {};
};

// Runs `body` (returning the op's result) as the traced op `op`; `describe` (returning an OpRecord) runs
// only when the op is reported, so an untraced call builds nothing.
template <class Body, class Describe>
Tensor traced(const char* op, Body&& body, Describe&& describe) {
  OpScope scope(op);
  Tensor y = body();
  if (scope) {
    OpRecord r = describe();
    scope.report(r.inputs, y, r.attrs);
  }
  return y;
}

// Called by autograd::record for every node: reaches the tracer only outside traced ops.
inline void report_node(const char* name, const Tensor& output) {
  Tracer* t = detail::t_tracer;
  if (t != nullptr && t->depth_ == 0) t->on_node(name, output);
}

}  // namespace kiln::autograd::trace
