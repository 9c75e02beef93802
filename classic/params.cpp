// kiln/classic/params.cpp: the non-template half of params.h — rules, type-checked assignment and the
// wording of every parameter error in classic/.
#include "kiln/classic/params.h"

#include <cmath>
#include <sstream>

#include "kiln/tensor/error.h"

namespace kiln::classic::param {
namespace {

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

const char* type_name(const ParamValue& v) {
  switch (v.index()) {
    case 0:
      return "bool";
    case 1:
      return "int";
    case 2:
      return "double";
    default:
      return "string";
  }
}

template <class T>
void assign_exact(const std::string& cls, const std::string& key, const ParamValue& v, T& out,
                  const char* expected) {
  const T* got = std::get_if<T>(&v);
  KILN_CHECK(got != nullptr, cls, ".set_params: parameter '", key, "' must be ", expected, ", got ",
             type_name(v), " ", str(v));
  out = *got;
}

}  // namespace

bool Range::contains(double v) const {
  const bool lo_ok = lo_closed ? v >= lo : v > lo;
  const bool hi_ok = hi_closed ? v <= hi : v < hi;
  return lo_ok && hi_ok;
}

std::string Range::describe(bool real) const {
  if (!text.empty()) return text;
  const bool no_lo = std::isinf(lo), no_hi = std::isinf(hi);
  // An unbounded real interval still refuses infinity, and says so; a bounded one implies finiteness.
  const std::string finite = real ? " and finite" : "";
  if (no_hi && !no_lo) return (lo_closed ? ">= " : "> ") + number(lo) + finite;
  if (no_lo && !no_hi) return (hi_closed ? "<= " : "< ") + number(hi) + finite;
  if (no_lo && no_hi) return "finite";
  return std::string("in ") + (lo_closed ? "[" : "(") + number(lo) + ", " + number(hi) +
         (hi_closed ? "]" : ")");
}

Range interval(double lo, double hi, bool lo_closed, bool hi_closed) {
  Range r;
  r.lo = lo;
  r.hi = hi;
  r.lo_closed = lo_closed;
  r.hi_closed = hi_closed;
  return r;
}

Range at_least(double lo) { return interval(lo, kUnbounded, true, true); }
Range greater_than(double lo) { return interval(lo, kUnbounded, false, true); }
Range closed(double lo, double hi) { return interval(lo, hi, true, true); }
Range open(double lo, double hi) { return interval(lo, hi, false, false); }
Range described(Range r, std::string text) {
  r.text = std::move(text);
  return r;
}

bool OneOf::ok(const std::string& v) const {
  for (const auto& c : choices)
    if (c == v) return true;
  return false;
}

std::string OneOf::text() const {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
    out += "'" + choices[i] + "'";
  }
  return out;
}

OneOf one_of(std::vector<std::string> choices) { return {std::move(choices)}; }

void fail(const std::string& who, const std::string& name, const std::string& rule,
          const std::string& value) {
  KILN_CHECK(false, who, ": ", name, " must be ", rule, ", got ", value);
  throw Error("unreachable");
}

std::string str(const ParamValue& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const double* d = std::get_if<double>(&v)) return number(*d);
  return "'" + std::get<std::string>(v) + "'";
}

void assign(const std::string& cls, const std::string& key, const ParamValue& v, bool& out) {
  assign_exact(cls, key, v, out, "a bool");
}
void assign(const std::string& cls, const std::string& key, const ParamValue& v, std::int64_t& out) {
  assign_exact(cls, key, v, out, "an int");
}
void assign(const std::string& cls, const std::string& key, const ParamValue& v, double& out) {
  if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) {
    out = static_cast<double>(*i);
    return;
  }
  assign_exact(cls, key, v, out, "a number");
}
void assign(const std::string& cls, const std::string& key, const ParamValue& v, std::string& out) {
  assign_exact(cls, key, v, out, "a string");
}
void assign(const std::string&, const std::string&, const ParamValue& v, ParamValue& out) { out = v; }

void check(const std::string& who, const std::string& name, double v, const Range& r) {
  if (!std::isfinite(v) || !r.contains(v)) fail(who, name, r.describe(true), number(v));
}
void check(const std::string& who, const std::string& name, std::int64_t v, const Range& r) {
  if (!r.contains(static_cast<double>(v))) fail(who, name, r.describe(false), std::to_string(v));
}
void check(const std::string& who, const std::string& name, const std::string& v, const OneOf& r) {
  if (!r.ok(v)) fail(who, name, r.text(), "'" + v + "'");
}

void unknown(const std::string& cls, const std::string& key, const ParamMap& known) {
  std::string names;
  for (const auto& [k, _] : known) names += (names.empty() ? "" : ", ") + k;
  KILN_CHECK(false, cls, ".set_params: unknown parameter '", key, "'; valid: ", names);
  throw Error("unreachable");
}

}  // namespace kiln::classic::param
