// examples/tabular.cpp: the tabular workflow in one file — a CSV with a categorical column, missing cells
// and a 90/10 target; a stratified 70/15/15 split; a ColumnTransformer (impute + scale the numbers, impute +
// one-hot the categories) in a Pipeline; GridSearchCV with StratifiedKFold on the training part only over
// LogisticRegression, RandomForest, HistGradientBoosting and a NeuralNetClassifier, all with balanced class
// weights, scored by ROC-AUC; the best on the validation part is reported on the test part; then the same
// with SMOTE inside the pipeline instead of class weights.
//
//   build/release/examples/tabular [churn.csv] [--out DIR]
//
// --out DIR writes the split (split.csv: row, part) and each model's test probabilities (test_<model>.csv),
// which bench/tabular_vs_sklearn.sh compares with scikit-learn on the very same rows.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <kiln/kiln.h>
#include <kiln/nn/train/atomic_file.h>

using namespace kiln;
namespace C = kiln::classic;

namespace {

struct Parts {
  data::Table train, val, test;
  std::vector<std::pair<int64_t, std::string>> rows;  // (row, part) for --out
};

// 70 / 15 / 15, each part with the table's churn rate: 30% held out, then halved.
Parts split(const data::Table& table, const std::string& target) {
  Tensor y = table.to_xy(target).y;
  C::Split outer =
      C::train_test_split_indices(table.num_rows(), {.test_size = 0.3, .stratify = y, .random_state = 0});
  std::vector<int64_t> held_labels;
  for (int64_t r : outer.test) held_labels.push_back(y.to_vector<int64_t>()[r]);
  C::Split inner = C::train_test_split_indices(
      static_cast<int64_t>(outer.test.size()),
      {.test_size = 0.5, .stratify = from_vector(held_labels), .random_state = 0});
  std::vector<int64_t> val, test;
  for (int64_t i : inner.train) val.push_back(outer.test[i]);
  for (int64_t i : inner.test) test.push_back(outer.test[i]);
  Parts p{table.take(outer.train), table.take(val), table.take(test), {}};
  for (int64_t r : outer.train) p.rows.push_back({r, "train"});
  for (int64_t r : val) p.rows.push_back({r, "val"});
  for (int64_t r : test) p.rows.push_back({r, "test"});
  return p;
}

// Numbers: median imputation then standardization. Categories: the most frequent one fills a gap, then
// one-hot columns (a category unseen in a fold's training rows gives zeros).
C::ColumnTransformer preprocessor() {
  C::Pipeline numbers, categories;
  numbers.add("impute", C::SimpleImputer({.strategy = "median"})).add("scale", C::StandardScaler());
  categories.add("impute", C::SimpleImputer({.strategy = "most_frequent"}))
      .add("onehot", C::OneHotEncoder({.handle_unknown = "ignore"}));
  C::ColumnTransformer ct;
  ct.add("num", numbers, C::numeric_columns()).add("cat", categories, C::categorical_columns());
  return ct;
}

struct Candidate {
  std::string name;
  std::unique_ptr<C::Estimator> model;
  C::ParamGrid grid;  // names relative to the model ("C"), prefixed with "model__" below
};

std::vector<Candidate> candidates(bool class_weights) {
  const std::string cw = class_weights ? "balanced" : "";
  std::vector<Candidate> c;
  c.push_back({"logistic_regression",
               std::make_unique<C::LogisticRegression>(
                   C::LogisticRegression::Params{.class_weight = cw, .max_iter = 500}),
               {{"C", {0.1, 1.0, 10.0}}}});
  if (!class_weights) return c;  // the SMOTE variant: one model is enough to show the pipeline
  c.push_back({"random_forest",
               std::make_unique<C::RandomForestClassifier>(C::RandomForestClassifier::Params{
                   .n_estimators = 100, .min_samples_leaf = 5, .class_weight = cw}),
               {{"max_depth", {int64_t{6}, int64_t{12}}}}});
  c.push_back({"hist_gradient_boosting",
               std::make_unique<C::HistGradientBoostingClassifier>(
                   C::HistGradientBoostingClassifier::Params{.max_iter = 100, .class_weight = cw}),
               {{"learning_rate", {0.03, 0.1}}}});
  c.push_back({"neural_net",
               std::make_unique<nn::train::NeuralNetClassifier>(
                   nn::train::NeuralNetParams{.epochs = 30, .batch_size = 64, .class_weight = cw}),
               {{"lr", {1e-3, 3e-3}}, {"hidden_sizes", {std::string("16"), std::string("64")}}}});
  return c;
}

// One line per test row: the predicted label's code and the probability of "yes".
void write_predictions(const std::string& path, const Tensor& pred, const Tensor& proba) {
  std::string text = "pred,p_yes\n";
  std::vector<double> p = proba.to_vector<double>();
  std::vector<int64_t> y = pred.to_vector<int64_t>();
  char buf[64];
  for (size_t i = 0; i < y.size(); ++i)
    std::snprintf(buf, sizeof buf, "%lld,%.17g\n", static_cast<long long>(y[i]), p[2 * i + 1]), text += buf;
  nn::train::write_file_atomically(path, text);
}

std::string format_params(const C::ParamMap& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    out += (out.empty() ? "" : ", ") + k.substr(k.find("__") + 2) + "=";
    std::visit(
        [&](const auto& x) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string>)
            out += x;
          else
            out += std::to_string(x);
        },
        v);
  }
  return out;
}

struct Scored {
  std::string name;
  double cv_auc = 0, val_auc = 0, test_auc = 0;
  Tensor test_proba, test_pred;
};

// Tunes one model by 5-fold stratified CV on the training rows, then scores the refitted best on the
// validation and test rows (converted with the training table's schema).
Scored tune(Candidate& cand, const Parts& parts, bool smote) {
  C::Pipeline pipe;
  pipe.add("prep", preprocessor());
  if (smote) pipe.add("smote", C::SMOTE({.random_state = 0}));
  pipe.add("model", std::move(cand.model));
  C::ParamGrid grid;
  for (auto& [k, v] : cand.grid) grid["model__" + k] = v;
  C::GridSearchCV search(pipe, {.param_grid = {grid},
                                .scoring = "roc_auc",
                                .splitter = std::make_shared<C::StratifiedKFold>(
                                    C::KFoldParams{.n_splits = 5, .shuffle = true, .random_state = 0}),
                                .n_jobs = 0});
  search.fit(parts.train, "churned");
  auto positive = [](const Tensor& proba) {
    std::vector<double> p = proba.to_vector<double>(), out;
    for (size_t i = 1; i < p.size(); i += 2) out.push_back(p[i]);
    return from_vector(out);
  };
  const data::TableSchema schema = parts.train.fit_schema("churned");
  Scored s{cand.name, search.best_score()};
  s.val_auc = C::roc_auc_score(parts.val.to_xy(schema).y, positive(search.predict_proba(parts.val)));
  s.test_proba = search.predict_proba(parts.test);
  s.test_pred = search.predict(parts.test);
  s.test_auc = C::roc_auc_score(parts.test.to_xy(schema).y, positive(s.test_proba));
  std::printf("  %-24s cv ROC-AUC %.4f  val %.4f  test %.4f  best %s\n", s.name.c_str(), s.cv_auc, s.val_auc,
              s.test_auc, format_params(search.best_params()).c_str());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string csv = KILN_SOURCE_DIR "/examples/data/churn.csv", out_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out" && i + 1 < argc)
      out_dir = argv[++i];
    else
      csv = a;
  }
  try {
    data::Table table = data::read_csv(csv);
    Parts parts = split(table, "churned");
    std::printf("tabular: %s, %lld rows (train %lld, val %lld, test %lld), %lld missing cells\n", csv.c_str(),
                static_cast<long long>(table.num_rows()), static_cast<long long>(parts.train.num_rows()),
                static_cast<long long>(parts.val.num_rows()), static_cast<long long>(parts.test.num_rows()),
                [&] {
                  long long n = 0;
                  for (const auto& c : table.columns()) n += c.null_count();
                  return n;
                }());
    const data::TableSchema schema = parts.train.fit_schema("churned");
    Tensor y_test = parts.test.to_xy(schema).y;
    std::printf("GridSearchCV, 5-fold StratifiedKFold on the training rows, class_weight = balanced:\n");
    std::vector<Scored> scored;
    for (Candidate& c : candidates(true)) scored.push_back(tune(c, parts, false));
    const Scored* best = &scored[0];
    for (const Scored& s : scored)
      if (s.val_auc > best->val_auc) best = &s;
    std::printf(
        "\nbest on the validation rows: %s; on the test rows (ROC-AUC %.4f):\n%s\n", best->name.c_str(),
        best->test_auc,
        C::classification_report(y_test, best->test_pred, {.target_names = schema.classes, .digits = 4})
            .c_str());
    std::printf(
        "SMOTE inside the pipeline (after the ColumnTransformer, training folds only), no class weights:\n");
    Candidate smote_lr = std::move(candidates(false)[0]);
    smote_lr.name = "logistic_regression_smote";
    scored.push_back(tune(smote_lr, parts, true));
    if (!out_dir.empty()) {
      std::filesystem::create_directories(out_dir);
      std::string rows = "row,part\n";
      for (const auto& [r, part] : parts.rows) rows += std::to_string(r) + "," + part + "\n";
      nn::train::write_file_atomically(out_dir + "/split.csv", rows);
      std::string summary = "model,cv_auc,val_auc,test_auc\n";
      for (const Scored& s : scored) {
        write_predictions(out_dir + "/test_" + s.name + ".csv", s.test_pred, s.test_proba);
        nn::train::write_file_atomically(
            out_dir + "/report_" + s.name + ".txt",
            C::classification_report(y_test, s.test_pred, {.target_names = schema.classes, .digits = 4}));
        summary += s.name + "," + std::to_string(s.cv_auc) + "," + std::to_string(s.val_auc) + "," +
                   std::to_string(s.test_auc) + "\n";
      }
      nn::train::write_file_atomically(out_dir + "/summary.csv", summary);
    }
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "tabular: %s\n", e.what());
    return 1;
  }
  return 0;
}
