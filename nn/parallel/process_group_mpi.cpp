// The MPI process group: MPI initialization, the communication thread that runs every MPI call, the
// consistency check that precedes each collective, timeouts and the job-wide abort on an uncaught
// exception.
//
// Why a thread: collectives must overlap the backward pass. MPI's non-blocking collectives progress only
// inside MPI calls, so an Iallreduce left alone during backward would not move; a thread running the
// blocking call progresses it at full speed while the caller computes (PyTorch's MPI backend does the
// same). All MPI calls go through that one thread (MPI_THREAD_SERIALIZED suffices), in the order the
// caller queued them, which is what keeps the ranks' collectives matched.
#include <mpi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <iostream>
#include <sstream>
#include <thread>

#include "kiln/kernels/cuda/cuda.h"
#include "kiln/nn/parallel/collective.h"
#include "kiln/nn/parallel/mpi_types.h"
#include "kiln/nn/parallel/nccl_backend.h"
#include "kiln/tensor/error.h"

namespace kiln::distributed {
namespace detail {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  KILN_CHECK(false, "kiln::distributed: ", what, " failed: ", std::string(text, len));
}

namespace {

[[noreturn]] void abort_job_on_terminate() {
  int rank = -1, size = -1;
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  std::string what = "unknown exception";
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
  } else {
    what = "std::terminate called without an active exception";
  }
  std::fprintf(stderr, "kiln::distributed: rank %d of %d terminating: %s\n", rank, size, what.c_str());
  std::fflush(stderr);
  // Ends every rank of the job now, instead of leaving the others blocked in their next collective.
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

std::chrono::milliseconds timeout_from_env(std::chrono::milliseconds fallback) {
  const char* env = std::getenv("KILN_DIST_TIMEOUT_S");
  if (!env || !*env) return fallback;
  char* end = nullptr;
  double seconds = std::strtod(env, &end);
  KILN_CHECK(end && *end == '\0' && seconds > 0, "init_process_group: KILN_DIST_TIMEOUT_S='", env,
             "' is not a positive number of seconds");
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

struct Task {
  Signature sig;
  int64_t sequence;
  std::function<void()> body;
  std::shared_ptr<Work::State> state;
};

}  // namespace

class ProcessGroup {
 public:
  explicit ProcessGroup(const InitOptions& options);
  ~ProcessGroup();

  Work enqueue(const Signature& sig, std::function<void()> body, std::function<void()> finish);
  void mark_broken(const std::string& why);
  void throw_if_broken() const;
  std::chrono::milliseconds timeout() const { return timeout_; }

  int rank = 0, world_size = 1, local_rank = 0;
  MPI_Comm comm = MPI_COMM_NULL;
  bool owns_mpi = false;

 private:
  void run();
  void check_signature(const Task& task);

  std::chrono::milliseconds timeout_;
  bool check_consistency_;
  int64_t next_sequence_ = 0;
  std::mutex mutex_;
  std::condition_variable queue_cv_, idle_cv_;
  std::deque<Task> queue_;
  bool busy_ = false, stopping_ = false;
  std::atomic<bool> broken_{false};
  std::string broken_why_;
  mutable std::mutex broken_mutex_;
  std::thread worker_;
};

namespace {
ProcessGroup* g_group = nullptr;
std::mutex g_init_mutex;

// At exit, a program that did not call destroy_process_group() finalizes MPI, but only when it exits
// with status 0: MPI_Finalize waits for every rank, so a rank leaving with an error must skip it, and
// mpirun, seeing it exit non-zero without finalizing, ends the other ranks at once.
void destroy_at_exit(int status, void*) {
  if (g_group && status == 0) destroy_process_group();
}
#ifndef __GLIBC__
void destroy_at_exit_success() { destroy_at_exit(0, nullptr); }
#endif
}  // namespace

ProcessGroup::ProcessGroup(const InitOptions& options)
    : timeout_(timeout_from_env(options.timeout)), check_consistency_(options.check_consistency) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  int provided = 0;
  if (!initialized) {
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    owns_mpi = true;
  } else {
    int finalized = 0;
    MPI_Finalized(&finalized);
    KILN_CHECK(!finalized, "init_process_group: MPI was already finalized in this process");
    MPI_Query_thread(&provided);
  }
  KILN_CHECK(provided >= MPI_THREAD_SERIALIZED, "init_process_group: this MPI provides thread level ",
             provided, "; kiln needs MPI_THREAD_SERIALIZED (its communication thread makes the MPI calls)");
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
  // Errors come back as codes that become kiln::Error, rather than MPI aborting the job silently.
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &world_size);
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_free(&node);
  mpi_types_init();
  worker_ = std::thread([this] { run(); });
}

ProcessGroup::~ProcessGroup() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (broken_) {
    // The thread may be stuck inside an MPI call that will never return; it dies with the process.
    worker_.detach();
    return;
  }
  worker_.join();
  nccl::shutdown();
  mpi_types_free();
  MPI_Comm_free(&comm);
  if (owns_mpi) MPI_Finalize();
}

void ProcessGroup::mark_broken(const std::string& why) {
  std::lock_guard lock(broken_mutex_);
  if (!broken_) broken_why_ = why;
  broken_ = true;
}

void ProcessGroup::throw_if_broken() const {
  if (!broken_) return;
  std::lock_guard lock(broken_mutex_);
  KILN_CHECK(false, "kiln::distributed: the process group is broken (", broken_why_,
             "); no further collective can run in this job");
}

Work ProcessGroup::enqueue(const Signature& sig, std::function<void()> body, std::function<void()> finish) {
  throw_if_broken();
  auto state = std::make_shared<Work::State>();
  state->finish = std::move(finish);
  {
    std::lock_guard lock(mutex_);
    const int64_t seq = next_sequence_++;
    state->name = std::string(kind_name(sig.kind)) + " (collective #" + std::to_string(seq) + ")";
    queue_.push_back({sig, seq, std::move(body), state});
  }
  queue_cv_.notify_one();
  return Work(state);
}

void ProcessGroup::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::exception_ptr error;
    try {
      throw_if_broken();
      if (check_consistency_) check_signature(task);
      if (task.body) task.body();
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(task.state->mutex);
      task.state->error = error;
      task.state->done = true;
    }
    task.state->done_cv.notify_all();
  }
}

namespace {
std::string values_by_rank(const std::vector<int64_t>& all, int world, int field, int fields,
                           const std::function<std::string(int64_t)>& show) {
  std::ostringstream os;
  for (int r = 0; r < world && r < 8; ++r)
    os << (r ? ", " : "") << "rank " << r << " " << show(all[r * fields + field]);
  if (world > 8) os << ", ...";
  return os.str();
}
}  // namespace

// Every rank gathers every rank's signature, so all of them see the same disagreement and throw the
// same error; no data has moved yet, so the group stays usable.
void ProcessGroup::check_signature(const Task& task) {
  constexpr int fields = 6;
  const Signature& s = task.sig;
  int64_t mine[fields] = {task.sequence, static_cast<int64_t>(s.kind), static_cast<int64_t>(s.dtype),
                          s.count,       static_cast<int64_t>(s.op),   s.root};
  std::vector<int64_t> all(static_cast<size_t>(fields) * world_size);
  check_mpi(MPI_Allgather(mine, fields, MPI_INT64_T, all.data(), fields, MPI_INT64_T, comm),
            "the consistency check (MPI_Allgather)");
  auto as_int = [](int64_t v) { return std::to_string(v); };
  auto as_kind = [](int64_t v) { return std::string(kind_name(static_cast<Kind>(v))); };
  auto as_dtype = [](int64_t v) { return std::string(dtype_name(static_cast<DType>(v))); };
  auto as_op = [](int64_t v) { return std::string(reduce_op_name(static_cast<ReduceOp>(v))); };
  struct Field {
    const char* what;
    std::function<std::string(int64_t)> show;
  };
  const Field names[fields] = {{"how many collectives they ran before (sequence number)", as_int},
                               {"the collective", as_kind},
                               {"the dtype", as_dtype},
                               {"the element count", as_int},
                               {"the reduce op", as_op},
                               {"the root rank", as_int}};
  for (int f = 0; f < fields; ++f) {
    if (f == 4 && s.kind != Kind::all_reduce && s.kind != Kind::reduce_scatter) continue;
    if (f == 5 && s.kind != Kind::broadcast) continue;
    for (int r = 1; r < world_size; ++r) {
      if (all[r * fields + f] == all[f]) continue;
      KILN_CHECK(false, "kiln::distributed: ", kind_name(s.kind), " (collective #", task.sequence,
                 " on rank ", rank, "): the ranks disagree on ", names[f].what, ": ",
                 values_by_rank(all, world_size, f, fields, names[f].show),
                 ". Every rank must call the same collectives in the same order with matching tensors");
    }
  }
}

ProcessGroup& group() {
  KILN_CHECK(g_group,
             "kiln::distributed: the process group is not initialized (call "
             "distributed::init_process_group() first, in a program launched with mpirun)");
  return *g_group;
}

Work enqueue(const Signature& sig, std::function<void()> body, std::function<void()> finish) {
  return group().enqueue(sig, std::move(body), std::move(finish));
}

MPI_Comm group_comm() { return group().comm; }

void mark_group_broken(const std::string& why) {
  if (g_group) g_group->mark_broken(why);
}
std::chrono::milliseconds group_timeout() { return group().timeout(); }

}  // namespace detail

bool is_available() { return true; }

void init_process_group(const InitOptions& options) {
  std::lock_guard lock(detail::g_init_mutex);
  KILN_CHECK(!detail::g_group,
             "init_process_group: already initialized (call destroy_process_group() first)");
  detail::g_group = new detail::ProcessGroup(options);
  static bool registered = false;
  if (!registered) {
    std::set_terminate(detail::abort_job_on_terminate);
#ifdef __GLIBC__
    on_exit(detail::destroy_at_exit, nullptr);  // glibc passes the exit status
#else
    std::atexit(detail::destroy_at_exit_success);
#endif
    registered = true;
  }
}

bool is_initialized() { return detail::g_group != nullptr; }

void destroy_process_group() {
  std::lock_guard lock(detail::g_init_mutex);
  if (!detail::g_group) return;
  detail::ProcessGroup* g = detail::g_group;
  detail::g_group = nullptr;
  delete g;
}

int get_rank() { return detail::group().rank; }
int get_world_size() { return detail::group().world_size; }
int get_local_rank() { return detail::group().local_rank; }

Device default_device() {
  const int local = get_local_rank();
  if (cuda::is_available()) return Device::cuda(local % cuda::device_count());
  return Device::cpu();
}

void Work::wait() {
  if (!state_) return;
  std::unique_lock lock(state_->mutex);
  if (!state_->done) {
    const auto timeout = detail::group_timeout();
    if (!state_->done_cv.wait_for(lock, timeout, [&] { return state_->done; })) {
      std::ostringstream why;
      why << state_->name << " did not finish within " << timeout.count() / 1000.0
          << " s: another rank may have failed, exited, or be running a different collective";
      detail::mark_group_broken(why.str());
      KILN_CHECK(false, "kiln::distributed: ", why.str(),
                 " (timeout: InitOptions::timeout or KILN_DIST_TIMEOUT_S)");
    }
  }
  if (state_->error) std::rethrow_exception(state_->error);
  if (!state_->finished) {
    state_->finished = true;
    if (state_->finish) state_->finish();
  }
}

bool Work::is_completed() const {
  if (!state_) return true;
  std::lock_guard lock(state_->mutex);
  return state_->done;
}

}  // namespace kiln::distributed
