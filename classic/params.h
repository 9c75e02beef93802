// kiln/classic/params.h: hyper-parameters declared once. Every estimator's nested `Params` struct lists its
// fields in one member template,
//
//   template <class Visit> void fields(Visit&& visit) {
//     visit("alpha", alpha, param::at_least(0));
//     visit("fit_intercept", fit_intercept);
//   }
//
// and get_params / set_params / clone / validation are generated from that list (params::to_map,
// params::assign, params::validate), so a field cannot be readable but not settable, or checked in one
// estimator's fit() and not another's. Rules follow scikit-learn's parameter constraints (an interval, a
// set of strings); an estimator with a constraint spanning several fields still checks it in fit().
// Depends on tensor/ only.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kiln::classic {

// One hyper-parameter value. Integers are int64_t, reals double; strings carry enums ("balanced", "l2").
using ParamValue = std::variant<bool, std::int64_t, double, std::string>;
// Hyper-parameters by name. Nested objects (a pipeline's steps) use scikit-learn's "step__param" names.
using ParamMap = std::map<std::string, ParamValue>;

namespace param {

// A numeric interval from lo to hi, inclusive where *_closed. A real value must also be finite (NaN and
// infinity compare false or true against any bound, so a range check alone would let them through).
// `text`, when set, replaces the generated wording of what the value must be (">= 0 and finite").
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_closed = true;
  bool hi_closed = true;
  std::string text;
  bool contains(double v) const;
  std::string describe(bool real) const;
};
inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();
Range interval(double lo, double hi, bool lo_closed, bool hi_closed);
Range at_least(double lo);                   // [lo, inf)
Range greater_than(double lo);               // (lo, inf)
Range closed(double lo, double hi);          // [lo, hi]
Range open(double lo, double hi);            // (lo, hi)
Range described(Range r, std::string text);  // the same interval, in the estimator's own words

// One of a fixed set of strings ("'l2' or 'none'").
struct OneOf {
  std::vector<std::string> choices;
  bool ok(const std::string& v) const;
  std::string text() const;
};
OneOf one_of(std::vector<std::string> choices);

// "<who>: <name> must be <rule>, got <value>".
[[noreturn]] void fail(const std::string& who, const std::string& name, const std::string& rule,
                       const std::string& value);
// The printable form used in messages: numbers as written, strings quoted ('l2'), bools true/false.
std::string str(const ParamValue& v);

// Type-checked assignment of a ParamMap value to a field; doubles also take integers (alpha = 1), as
// scikit-learn does. "<cls>.set_params: parameter '<key>' must be a <type>, got <type> <value>".
void assign(const std::string& cls, const std::string& key, const ParamValue& v, bool& out);
void assign(const std::string& cls, const std::string& key, const ParamValue& v, std::int64_t& out);
void assign(const std::string& cls, const std::string& key, const ParamValue& v, double& out);
void assign(const std::string& cls, const std::string& key, const ParamValue& v, std::string& out);
void assign(const std::string& cls, const std::string& key, const ParamValue& v, ParamValue& out);

void check(const std::string& who, const std::string& name, double v, const Range& r);
void check(const std::string& who, const std::string& name, std::int64_t v, const Range& r);
void check(const std::string& who, const std::string& name, const std::string& v, const OneOf& r);

// "<cls>.set_params: unknown parameter '<key>'; valid: a, b, c".
[[noreturn]] void unknown(const std::string& cls, const std::string& key, const ParamMap& known);

}  // namespace param

namespace params {

// The declared fields by name.
template <class P>
ParamMap to_map(const P& p) {
  ParamMap out;
  P copy = p;  // fields() is one non-const list for reading, writing and checking
  copy.fields([&](const char* name, const auto& field, const auto&... /*rule*/) { out[name] = field; });
  return out;
}

// Sets each entry of `values` on a copy of `p`, so an unknown name or a wrong type leaves `p` unchanged.
template <class P>
void assign(P& p, const ParamMap& values, const std::string& cls) {
  P next = p;
  for (const auto& [key, value] : values) {
    bool found = false;
    next.fields([&](const char* name, auto& field, const auto&... /*rule*/) {
      if (key != name) return;
      param::assign(cls, key, value, field);
      found = true;
    });
    if (!found) param::unknown(cls, key, to_map(p));
  }
  p = std::move(next);
}

// Checks every field against its rule; `who` prefixes the error ("Ridge.fit").
template <class P>
void validate(const P& p, const std::string& who) {
  P copy = p;
  copy.fields([&](const char* name, const auto& field, const auto&... rule) {
    (void)name;  // unused by fields without a rule
    (param::check(who, name, field, rule), ...);
  });
}

}  // namespace params
}  // namespace kiln::classic
