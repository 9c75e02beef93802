// data/dataset.cpp: collate, TensorDataset, Subset, ConcatDataset and the splits (see dataset.h).
// Depends on tensor/ (empty, as_strided, copy_) and rng.h.
#include "kiln/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

#include "kiln/data/rng.h"

namespace kiln::data {
namespace {

Tensor contiguous_copy(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = empty(t.shape(), {.dtype = t.dtype(), .device = t.device()});
  out.copy_(t);
  return out;
}

// Row `i` of a contiguous (N, ...) tensor, as a view.
Tensor row_view(const Tensor& t, int64_t i) {
  Shape rest(t.shape().begin() + 1, t.shape().end());
  return as_strided(t, rest, contiguous_strides(rest), t.offset() + i * shape_numel(rest));
}

// Stacks the tensors (all of one shape and dtype) along a new first dim.
Tensor stack_all(const std::vector<Tensor>& parts, const char* what) {
  const Tensor& first = parts.front();
  Shape shape = first.shape();
  for (size_t i = 1; i < parts.size(); ++i)
    KILN_CHECK(parts[i].shape() == shape && parts[i].dtype() == first.dtype(), "collate: example ", i, "'s ",
               what, " is ", shape_str(parts[i].shape()), " ", parts[i].dtype(), " but example 0's is ",
               shape_str(shape), " ", first.dtype());
  shape.insert(shape.begin(), static_cast<int64_t>(parts.size()));
  Tensor out = empty(shape, {.dtype = first.dtype(), .device = first.device()});
  for (size_t i = 0; i < parts.size(); ++i) row_view(out, static_cast<int64_t>(i)).copy_(parts[i]);
  return out;
}

void check_index(int64_t index, int64_t size, const char* who) {
  KILN_CHECK(index >= 0 && index < size, who, ": index ", index, " out of range for ", size, " examples");
}

// Split sizes: floor(n * f) each (up to rounding error in n * f), then one more for the splits with the
// largest fractional parts, earlier splits first on ties, until they sum to n. So every size is within
// one of n * f.
std::vector<int64_t> split_sizes(int64_t n, const std::vector<double>& fractions) {
  std::vector<int64_t> sizes;
  std::vector<std::pair<double, size_t>> rest;
  int64_t total = 0;
  for (size_t i = 0; i < fractions.size(); ++i) {
    const double exact = static_cast<double>(n) * fractions[i];
    sizes.push_back(static_cast<int64_t>(std::floor(exact + 1e-9)));
    rest.emplace_back(exact - static_cast<double>(sizes.back()), i);
    total += sizes.back();
  }
  std::stable_sort(rest.begin(), rest.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first + 1e-12; });
  for (size_t k = 0; total < n; k = (k + 1) % rest.size(), ++total) ++sizes[rest[k].second];
  for (size_t k = 0; total > n; ++k, --total) --sizes[rest[rest.size() - 1 - k].second];
  return sizes;
}

void check_fractions(const std::vector<double>& fractions, const char* who) {
  KILN_CHECK(!fractions.empty(), who, ": no fractions given");
  double sum = 0;
  for (double f : fractions) {
    KILN_CHECK(f >= 0 && f <= 1, who, ": fraction ", f, " is outside [0, 1]");
    sum += f;
  }
  KILN_CHECK(std::abs(sum - 1.0) < 1e-6, who, ": fractions sum to ", sum, ", not 1");
}

std::vector<int64_t> integer_labels(const Tensor& targets, const char* who) {
  KILN_CHECK(targets.dim() == 1, who,
             ": stratification needs one integer label per example, got targets of shape ",
             shape_str(targets.shape()));
  KILN_CHECK(targets.dtype() == DType::i64 || targets.dtype() == DType::i32 || targets.dtype() == DType::u8,
             who, ": stratification needs integer labels, got ", targets.dtype());
  return targets.to_vector<int64_t>();
}

}  // namespace

Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& indices) {
  KILN_CHECK(t.dim() >= 1 && t.is_contiguous(),
             "gather_rows: needs a contiguous tensor with a first dim, got ", shape_str(t.shape()));
  Shape shape = t.shape();
  const int64_t n = shape[0];
  shape[0] = static_cast<int64_t>(indices.size());
  Tensor out = empty(shape, {.dtype = t.dtype(), .device = t.device()});
  KILN_CHECK(t.device().is_cpu(), "gather_rows: tensors on ", t.device(), " are not supported yet");
  const size_t row_bytes = static_cast<size_t>(t.numel() / std::max<int64_t>(n, 1)) * dtype_size(t.dtype());
  const char* src = static_cast<const char*>(t.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  for (size_t i = 0; i < indices.size(); ++i) {
    check_index(indices[i], n, "gather_rows");
    std::memcpy(dst + i * row_bytes, src + static_cast<size_t>(indices[i]) * row_bytes, row_bytes);
  }
  return out;
}

Batch collate(const std::vector<Example>& examples) {
  KILN_CHECK(!examples.empty(), "collate: no examples");
  std::vector<Tensor> xs, ys;
  for (const Example& e : examples) {
    KILN_CHECK(e.x.defined(), "collate: an example has no x");
    KILN_CHECK(e.y.defined() == examples.front().y.defined(),
               "collate: some examples have a target and some not");
    xs.push_back(e.x);
    if (e.y.defined()) ys.push_back(e.y);
  }
  return {stack_all(xs, "x"), ys.empty() ? Tensor() : stack_all(ys, "y")};
}

Batch Dataset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (int64_t i : indices) examples.push_back(get(i));
  return collate(examples);
}

Tensor Dataset::targets() const {
  std::vector<int64_t> all(static_cast<size_t>(size()));
  std::iota(all.begin(), all.end(), 0);
  Batch b = get_batch(all);
  KILN_CHECK(b.y.defined(), "Dataset::targets: the dataset's examples have no targets");
  return b.y;
}

TensorDataset::TensorDataset(Tensor x, Tensor y) {
  KILN_CHECK(x.defined() && x.dim() >= 1, "TensorDataset: x must have a first (example) dim, got ",
             x.defined() ? shape_str(x.shape()) : "an undefined tensor");
  KILN_CHECK(!y.defined() || (y.dim() >= 1 && y.size(0) == x.size(0)), "TensorDataset: x ",
             shape_str(x.shape()), " and y ", shape_str(y.defined() ? y.shape() : Shape{}),
             " differ in their first (example) dim");
  x_ = contiguous_copy(x);
  if (y.defined()) y_ = contiguous_copy(y);
}

Example TensorDataset::get(int64_t index) const {
  check_index(index, size(), "TensorDataset::get");
  return {row_view(x_, index), y_.defined() ? row_view(y_, index) : Tensor()};
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  return {gather_rows(x_, indices), y_.defined() ? gather_rows(y_, indices) : Tensor()};
}

Tensor TensorDataset::targets() const {
  KILN_CHECK(y_.defined(), "TensorDataset::targets: the dataset was built without y");
  return y_;
}

Subset::Subset(DatasetPtr dataset, std::vector<int64_t> indices) : dataset_(std::move(dataset)) {
  KILN_CHECK(dataset_ != nullptr, "Subset: null dataset");
  const int64_t n = dataset_->size();
  for (int64_t i : indices) check_index(i, n, "Subset");
  indices_ = std::make_shared<const std::vector<int64_t>>(std::move(indices));
}

int64_t Subset::map(int64_t index) const {
  check_index(index, size(), "Subset::get");
  return (*indices_)[static_cast<size_t>(index)];
}

Example Subset::get(int64_t index) const { return dataset_->get(map(index)); }

Batch Subset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<int64_t> mapped;
  mapped.reserve(indices.size());
  for (int64_t i : indices) mapped.push_back(map(i));
  return dataset_->get_batch(mapped);
}

Tensor Subset::targets() const {
  KILN_CHECK(dataset_ != nullptr, "Subset::targets: empty subset");
  Tensor all = contiguous_copy(dataset_->targets());
  return gather_rows(all, *indices_);
}

ConcatDataset::ConcatDataset(std::vector<DatasetPtr> datasets) : datasets_(std::move(datasets)) {
  KILN_CHECK(!datasets_.empty(), "ConcatDataset: no datasets");
  offsets_.push_back(0);
  for (size_t i = 0; i < datasets_.size(); ++i) {
    KILN_CHECK(datasets_[i] != nullptr, "ConcatDataset: dataset ", i, " is null");
    offsets_.push_back(offsets_.back() + datasets_[i]->size());
  }
}

Example ConcatDataset::get(int64_t index) const {
  check_index(index, size(), "ConcatDataset::get");
  size_t d =
      static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), index) - offsets_.begin()) - 1;
  return datasets_[d]->get(index - offsets_[d]);
}

Tensor ConcatDataset::targets() const {
  std::vector<Example> parts;
  for (const DatasetPtr& d : datasets_) parts.push_back({contiguous_copy(d->targets()), Tensor()});
  // Concatenate along dim 0 by gathering all rows of each part into one tensor.
  const Tensor& first = parts.front().x;
  Shape shape = first.shape();
  shape[0] = size();
  Tensor out = empty(shape, {.dtype = first.dtype()});
  int64_t row = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& p = parts[i].x;
    KILN_CHECK(p.dtype() == first.dtype() && p.dim() == first.dim(), "ConcatDataset::targets: dataset ", i,
               "'s targets are ", shape_str(p.shape()), " ", p.dtype(), " but dataset 0's are ",
               shape_str(first.shape()), " ", first.dtype());
    for (int64_t r = 0; r < p.size(0); ++r) row_view(out, row++).copy_(row_view(p, r));
  }
  return out;
}

std::vector<Subset> random_split(DatasetPtr dataset, const std::vector<double>& fractions, uint64_t seed) {
  KILN_CHECK(dataset != nullptr, "random_split: null dataset");
  check_fractions(fractions, "random_split");
  const int64_t n = dataset->size();
  std::vector<int64_t> perm = permutation(n, seed, 0);
  std::vector<Subset> out;
  int64_t at = 0;
  for (int64_t len : split_sizes(n, fractions)) {
    out.emplace_back(dataset, std::vector<int64_t>(perm.begin() + at, perm.begin() + at + len));
    at += len;
  }
  return out;
}

TrainValTest train_val_test_split(DatasetPtr dataset, const SplitOptions& options) {
  KILN_CHECK(dataset != nullptr, "train_val_test_split: null dataset");
  std::vector<double> fractions(options.fractions.begin(), options.fractions.end());
  check_fractions(fractions, "train_val_test_split");
  if (!options.stratify) {
    std::vector<Subset> s = random_split(dataset, fractions, options.seed);
    return {s[0], s[1], s[2]};
  }
  std::vector<int64_t> labels = integer_labels(dataset->targets(), "train_val_test_split");
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(static_cast<int64_t>(i));
  std::array<std::vector<int64_t>, 3> parts;
  Rng rng(options.seed, 1);
  for (auto& [label, members] : by_class) {
    shuffle_in_place(members, rng);
    int64_t at = 0;
    std::vector<int64_t> sizes = split_sizes(static_cast<int64_t>(members.size()), fractions);
    for (size_t s = 0; s < 3; ++s) {
      parts[s].insert(parts[s].end(), members.begin() + at, members.begin() + at + sizes[s]);
      at += sizes[s];
    }
  }
  for (auto& p : parts) shuffle_in_place(p, rng);  // so a split does not list its classes in blocks
  return {Subset(dataset, parts[0]), Subset(dataset, parts[1]), Subset(dataset, parts[2])};
}

}  // namespace kiln::data
