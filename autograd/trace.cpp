// autograd/trace.cpp: the thread's installed tracer (none by default).
#include "kiln/autograd/trace.h"

namespace kiln::autograd::trace::detail {
thread_local constinit Tracer* t_tracer = nullptr;
}
