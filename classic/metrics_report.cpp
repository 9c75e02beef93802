// classification_report and its structured form (see metrics.h). The text layout reproduces scikit-learn
// 1.2's format strings: a name column right-aligned to max(longest name, len("weighted avg"), digits),
// then four 9-wide columns each after a space; the accuracy row leaves precision and recall blank.
// Depends on metrics_common.h.
#include <charconv>
#include <cstdio>
#include <numeric>

#include "kiln/classic/metrics.h"
#include "kiln/classic/metrics_common.h"

namespace kiln::classic {

namespace {

std::string pad_left(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Python's "{:>9}" of a support: an int count, or (with sample weights) a float in repr's shortest form.
std::string support_str(double s, bool weighted) {
  if (!weighted) return std::to_string(static_cast<int64_t>(s));
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, s);
  std::string out(buf, res.ptr);
  if (out.find_first_of(".enri") == std::string::npos) out += ".0";
  return out;
}

}  // namespace

std::string ClassificationReport::str(int digits) const {
  const std::string last_heading = "weighted avg";
  size_t width = std::max(last_heading.size(), static_cast<size_t>(std::max(digits, 0)));
  for (const auto& r : classes) width = std::max(width, r.name.size());
  std::string out = pad_left("", width) + " ";
  for (const char* h : {"precision", "recall", "f1-score", "support"}) {
    out += ' ';
    out += pad_left(h, 9);
  }
  out += "\n\n";
  auto row = [&](const ReportRow& r) {
    std::string s = pad_left(r.name, width) + " ";
    for (double v : {r.precision, r.recall, r.f1_score}) {
      s += ' ';
      s += pad_left(fixed(v, digits), 9);
    }
    s += ' ';
    s += pad_left(support_str(r.support, weighted), 9);
    return s + "\n";
  };
  for (const auto& r : classes) out += row(r);
  out += "\n";
  if (accuracy) {
    out += pad_left("accuracy", width);
    out += std::string(2 + 9 + 1 + 9 + 1, ' ');  // precision and recall left blank
    out += pad_left(fixed(*accuracy, digits), 9);
    out += ' ';
    out += pad_left(support_str(total_support, weighted), 9);
    out += '\n';
  }
  for (const auto& r : averages) out += row(r);
  return out;
}

ClassificationReport classification_report_dict(const Tensor& y_true, const Tensor& y_pred,
                                                const ReportOptions& o) {
  const std::string who = "classification_report";
  auto y = prep_detail::label_pair(y_true, y_pred, who);
  auto w = prep_detail::weights_of(o.sample_weight, y.t.size(), who);
  std::vector<int64_t> present = prep_detail::union_labels(y.t, y.p);
  std::vector<int64_t> labels = o.labels.empty() ? present : o.labels;
  KILN_CHECK(o.target_names.empty() || o.target_names.size() == labels.size(), who, ": ", labels.size(),
             " labels but ", o.target_names.size(), " target_names",
             o.labels.empty() ? "; pass labels to name a subset" : "");
  // "accuracy" replaces "micro avg" when the labels are exactly the ones present.
  bool micro_is_accuracy = o.labels.empty() || prep_detail::unique_sorted(o.labels) == present;
  ClassificationReport rep;
  rep.weighted = o.sample_weight.defined();
  auto per = prep_detail::prf(y, w, labels, "none", 1.0, o.zero_division);
  for (size_t i = 0; i < labels.size(); ++i)
    rep.classes.push_back({o.target_names.empty() ? std::to_string(labels[i]) : o.target_names[i],
                           per.precision[i], per.recall[i], per.fscore[i], per.support[i]});
  rep.total_support = std::accumulate(per.support.begin(), per.support.end(), 0.0);
  for (const char* avg : {"micro", "macro", "weighted"}) {
    auto a = prep_detail::prf(y, w, labels, avg, 1.0, o.zero_division);
    if (std::string(avg) == "micro" && micro_is_accuracy) {
      rep.accuracy = a.fscore[0];
      continue;
    }
    rep.averages.push_back(
        {std::string(avg) + " avg", a.precision[0], a.recall[0], a.fscore[0], rep.total_support});
  }
  return rep;
}

std::string classification_report(const Tensor& y_true, const Tensor& y_pred, const ReportOptions& o) {
  return classification_report_dict(y_true, y_pred, o).str(o.digits);
}

}  // namespace kiln::classic
