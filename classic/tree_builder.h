// kiln/classic/tree_builder.h: the CART engine behind DecisionTree* and RandomForest* (internal,
// namespace detail). Exact best splits like scikit-learn's BestSplitter, found without sorting per node:
// each feature is mapped once to the ranks of its distinct values (FeatureCodes, shared by every tree of
// a forest), and a node's candidate thresholds come from a histogram over those ranks (large nodes) or a
// sort of the node's ranks (small nodes). Depends on tree_common.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/classic/tree_common.h"

namespace kiln::classic::detail {

// The training features as ranks: code[f * N + i] is the rank of X[i, f] among the distinct float32
// values of column f, and values[f] lists those values in increasing order.
struct FeatureCodes {
  int64_t n = 0, d = 0;
  std::vector<uint32_t> code;  // empty when code8 is used
  std::vector<uint8_t> code8;  // the same ranks, when every column has at most 256 distinct values
  std::vector<std::vector<double>> values;
  static FeatureCodes make(const std::vector<float>& rows, int64_t n, int64_t d, int n_threads);
};

enum class Criterion { gini, entropy, squared_error };

struct TreeSettings {
  Criterion criterion = Criterion::gini;
  int64_t n_classes = 1;   // K for classification, 1 for regression
  int64_t max_depth = -1;  // -1: unlimited
  int64_t min_samples_split = 2;
  int64_t min_samples_leaf = 1;
  int64_t max_features = 0;  // features tried per node, 1..D (resolved)
  double min_impurity_decrease = 0.0;
};

// A fitted tree as flat arrays, nodes in depth-first preorder (left child first), as scikit-learn numbers
// them. Leaves have left = right = -1.
struct Tree {
  int64_t width = 1;                          // values per node: K class probabilities, or 1 mean
  std::vector<int32_t> left, right, feature;  // feature is -2 at leaves (scikit-learn's TREE_UNDEFINED)
  std::vector<double> threshold;              // go left when x[feature] <= threshold (x in float32)
  std::vector<double> impurity;               // of the node's training samples
  std::vector<double> weighted_n;             // total sample weight in the node
  std::vector<int64_t> n_samples;             // training samples (with nonzero weight) in the node
  std::vector<double> value;                  // node * width: class probabilities, or the weighted mean
  int64_t max_depth = 0;

  int64_t node_count() const { return static_cast<int64_t>(left.size()); }
  int64_t leaf_count() const;
  // The same nodes packed for prediction (one node per 24 bytes instead of four arrays); set by pack().
  struct PackedNode {
    int32_t left, right, feature;
    double threshold;
  };
  std::vector<PackedNode> packed;
  void pack();

  // The leaf that a row of float32 features reaches (needs pack()).
  int32_t apply(const float* row) const {
    const PackedNode* nd = packed.data();
    int32_t node = 0;
    while (nd[node].left >= 0)
      node =
          static_cast<double>(row[nd[node].feature]) <= nd[node].threshold ? nd[node].left : nd[node].right;
    return node;
  }
  // Adds each feature's total weighted impurity decrease (unnormalized) to importances (D).
  void add_importances(std::vector<double>& importances) const;
};

// Grows one tree on the samples with weight > 0. Classification: y_class holds class codes in
// 0..K-1 and y_reg is null; regression: y_reg holds targets and y_class is null. rng draws the features
// tried at each node as scikit-learn does (max_features draws, constant features included, more only if
// all drawn were constant); unused when max_features == D: features are then tried in column order, so
// ties between equally good splits go to the lower column index.
Tree build_tree(const FeatureCodes& X, const TreeSettings& settings, const int32_t* y_class,
                const double* y_reg, const std::vector<double>& weight, Rng& rng);

}  // namespace kiln::classic::detail
