// nn/train/lr_find.cpp: the learning-rate range test (an exponential sweep of the rate over a few batches,
// the model, optimizer, loader and generator put back afterwards) and its two suggestions.
#include "kiln/nn/train/lr_find.h"

#include <algorithm>
#include <cmath>

#include "kiln/nn/loss.h"
#include "kiln/nn/train/atomic_file.h"
#include "kiln/nn/train/svg_chart.h"
#include "kiln/tensor/error.h"
#include "kiln/tensor/random.h"

namespace kiln::nn::train {

namespace {
StateDict deep_copy(const StateDict& s) {
  StateDict out;
  for (const auto& [name, t] : s) out.insert(name, t.detach().clone());
  return out;
}

void check_options(const LRFindOptions& o, const data::DataLoader& loader) {
  KILN_CHECK(o.start_lr > 0 && std::isfinite(o.start_lr), "lr_find: start_lr must be > 0, got ", o.start_lr);
  KILN_CHECK(o.end_lr > o.start_lr && std::isfinite(o.end_lr), "lr_find: end_lr (", o.end_lr,
             ") must be finite and > start_lr (", o.start_lr, ")");
  KILN_CHECK(o.num_iter >= 2, "lr_find: num_iter must be >= 2, got ", o.num_iter);
  KILN_CHECK(o.smooth_beta >= 0 && o.smooth_beta < 1, "lr_find: smooth_beta must lie in [0, 1), got ",
             o.smooth_beta);
  KILN_CHECK(o.diverge_threshold > 1, "lr_find: diverge_threshold must be > 1, got ", o.diverge_threshold);
  KILN_CHECK(loader.size() > 0, "lr_find: the loader is empty (no batches)");
}

// Fills the two suggested learning rates from the sweep: the steepest descent of the smoothed loss, and a
// tenth of the rate at its minimum.
void suggest(LRFindResult& r) {
  // The suggestions ignore the diverged tail and fastai's skipped ends.
  std::size_t n = r.smoothed_losses.size();
  while (n > 0 && !std::isfinite(r.smoothed_losses[n - 1])) --n;
  if (n >= 2) {
    std::size_t lo = std::min<std::size_t>(n / 10, 10),
                hi = n > 5 && n - lo > 5 ? n - std::min<std::size_t>(5, n / 10) : n;
    std::size_t steep = lo, min_i = lo;
    double steep_slope = INFINITY;
    for (std::size_t i = lo; i < hi; ++i) {
      // numpy.gradient of the smoothed loss against log lr: central differences inside, one-sided at the
      // ends.
      const std::size_t a = i == 0 ? 0 : i - 1, b = i + 1 < n ? i + 1 : i;
      if (a == b) continue;
      const double slope =
          (r.smoothed_losses[b] - r.smoothed_losses[a]) / (std::log(r.lrs[b]) - std::log(r.lrs[a]));
      if (slope < steep_slope) steep_slope = slope, steep = i;
      if (r.smoothed_losses[i] < r.smoothed_losses[min_i]) min_i = i;
    }
    r.suggestion_steep = r.lrs[steep];
    r.suggestion_min_div10 = r.lrs[min_i] / 10;
  }
}
}  // namespace

LRFindResult lr_find(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& loader,
                     const LRFindOptions& o) {
  check_options(o, loader);

  // Everything the sweep changes, to put back exactly.
  const StateDict model_state = deep_copy(model.state_dict());
  const StateDict opt_state = optimizer.state_dict();
  const StateDict loader_state = loader.state_dict();
  Generator& gen = default_generator();
  const uint64_t gen_seed = gen.seed(), gen_offset = gen.offset();
  const bool was_training = model.is_training();
  const Device device = resolve_device(model, o.device);
  LossFn loss_fn = o.loss ? o.loss : [](const Tensor& out, const Tensor& y) {
    return nn::functional::cross_entropy(out, y);
  };

  LRFindResult r;
  auto restore = [&] {
    model.load_state_dict(model_state);
    optimizer.load_state_dict(opt_state);
    loader.load_state_dict(loader_state);
    gen.manual_seed(gen_seed);
    gen.set_offset(gen_offset);
    model.train(was_training);
    optimizer.zero_grad();
  };
  try {
    model.train();
    double avg = 0, best = INFINITY;
    int64_t step = 0;
    while (step < o.num_iter) {
      bool any = false;
      for (auto& batch : loader) {
        any = true;
        const double lr =
            o.start_lr *
            std::pow(o.end_lr / o.start_lr, static_cast<double>(step) / static_cast<double>(o.num_iter - 1));
        for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) optimizer.set_lr(g, lr);
        optimizer.zero_grad();
        Tensor loss = loss_fn(model(batch.x.to(device)), batch.y.to(device));
        KILN_CHECK(loss.defined() && loss.numel() == 1, "lr_find: the loss must return a scalar, got ",
                   loss.defined() ? shape_str(loss.shape()) : std::string("an undefined tensor"));
        loss.backward();
        optimizer.step();
        const double v = loss.item<double>();
        avg = o.smooth_beta * avg + (1 - o.smooth_beta) * v;
        const double smoothed = avg / (1 - std::pow(o.smooth_beta, static_cast<double>(step + 1)));
        r.lrs.push_back(lr);
        r.losses.push_back(v);
        r.smoothed_losses.push_back(smoothed);
        ++step;
        if (!std::isfinite(smoothed) || (step > 1 && smoothed > o.diverge_threshold * best)) {
          step = o.num_iter;  // diverged: the rest of the sweep says nothing more
          break;
        }
        best = std::min(best, smoothed);
        if (step >= o.num_iter) break;
      }
      if (!any) break;
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();

  suggest(r);
  return r;
}

std::string LRFindResult::to_svg() const {
  svg::Panel p;
  p.title = "learning-rate range test";
  p.x_label = "learning rate (log scale)";
  p.y_label = "loss";
  p.log_x = true;
  p.series.push_back({"loss", lrs, losses, "#c7c7c7", false});
  // The smoothed curve sets the range; raw spikes of the diverging end would flatten it.
  double lo = INFINITY, hi = -INFINITY;
  for (double v : smoothed_losses)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (std::isfinite(lo) && hi > lo) {
    p.has_y_limits = true;
    p.y_min = lo - 0.05 * (hi - lo);
    p.y_max = hi + 0.05 * (hi - lo);
  }
  p.series.push_back({"smoothed loss", lrs, smoothed_losses, "#1f77b4", false});
  char buf[64];
  std::snprintf(buf, sizeof buf, "steepest %.2e", suggestion_steep);
  if (suggestion_steep > 0) p.markers.push_back({suggestion_steep, buf, "#d62728"});
  std::snprintf(buf, sizeof buf, "min/10 %.2e", suggestion_min_div10);
  if (suggestion_min_div10 > 0) p.markers.push_back({suggestion_min_div10, buf, "#2ca02c"});
  return svg::render({p}, {.title = "lr_find", .panel_width = 640, .panel_height = 380, .columns = 1});
}

void LRFindResult::plot(const std::string& path) const { write_file_atomically(path, to_svg()); }

}  // namespace kiln::nn::train
