#include "kiln/nn/train/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace kiln::nn::train::svg {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string f2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string tick_label(double v, double step, bool log) {
  char buf[32];
  const double a = std::abs(v);
  if (v == 0) return "0";
  if (log) {  // decades: 0.001 ... 1000 as decimals, the rest as powers of ten
    if (a >= 1e-3 && a <= 1e3)
      std::snprintf(buf, sizeof buf, "%g", v);
    else
      std::snprintf(buf, sizeof buf, "1e%d", static_cast<int>(std::lround(std::log10(a))));
    return buf;
  }
  if (a >= 1e5 || a < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.0e", v);
  } else {
    int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), v);
  }
  return buf;
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` intervals over [lo, hi].
double nice_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;  // in data units
  double step = 1;
  double map(double v, double a, double b) const {  // data -> pixels between a and b
    double t =
        log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    return a + t * (b - a);
  }
};

Axis make_axis(double lo, double hi, bool log, bool integer_ticks) {
  Axis ax;
  ax.log = log;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (log) {
    lo = std::max(lo, 1e-300);
    hi = std::max(hi, lo * 10);
    const double a = std::floor(std::log10(lo)), b = std::ceil(std::log10(hi));
    ax.lo = std::pow(10.0, a), ax.hi = std::pow(10.0, b);
    const double every = std::max(1.0, std::ceil((b - a) / 8));
    for (double e = a; e <= b + 1e-9; e += every) ax.ticks.push_back(std::pow(10.0, e));
    return ax;
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
    const double pad = std::max(std::abs(hi) * 0.05, 1e-6);
    lo -= pad, hi += pad;
  }
  ax.step = nice_step(hi - lo, 5);
  if (integer_ticks) ax.step = std::max(1.0, std::round(ax.step));
  ax.lo = std::floor(lo / ax.step) * ax.step;
  ax.hi = std::ceil(hi / ax.step) * ax.step;
  if (ax.hi <= ax.lo) ax.hi = ax.lo + ax.step;
  for (double t = ax.lo; t <= ax.hi + ax.step * 1e-6; t += ax.step)
    ax.ticks.push_back(std::abs(t) < ax.step * 1e-9 ? 0 : t);
  return ax;
}

void render_panel(std::ostringstream& os, const Panel& p, double ox, double oy, double w, double h) {
  const double left = ox + 62, right = ox + w - 14, top = oy + 30, bottom = oy + h - 42;
  auto shown = [&p](double x, double y) {
    if (!std::isfinite(y) || !std::isfinite(x)) return false;
    if ((p.log_y && y <= 0) || (p.log_x && x <= 0)) return false;
    return !p.has_y_limits || (y >= p.y_min && y <= p.y_max);
  };
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  bool integer_x = true;
  for (const auto& s : p.series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!shown(s.x[i], s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
      integer_x = integer_x && s.x[i] == std::floor(s.x[i]);
    }
  if (xlo == xhi) xlo -= 1, xhi += 1;
  if (p.has_y_limits) ylo = p.y_min, yhi = p.y_max;
  Axis ax = make_axis(xlo, xhi, p.log_x, integer_x && !p.log_x);
  Axis ay = make_axis(ylo, yhi, p.log_y, false);

  os << "<g class=\"panel\" data-title=\"" << escape(p.title) << "\">\n";
  os << "<rect x=\"" << f2(left) << "\" y=\"" << f2(top) << "\" width=\"" << f2(right - left)
     << "\" height=\"" << f2(bottom - top) << "\" fill=\"#ffffff\" stroke=\"#333333\" stroke-width=\"1\"/>\n";
  os << "<text x=\"" << f2((left + right) / 2) << "\" y=\"" << f2(oy + 18)
     << "\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" << escape(p.title) << "</text>\n";
  // Grid and ticks.
  for (double t : ax.ticks) {
    const double x = ax.map(t, left, right);
    os << "<line x1=\"" << f2(x) << "\" y1=\"" << f2(top) << "\" x2=\"" << f2(x) << "\" y2=\"" << f2(bottom)
       << "\" stroke=\"#e5e5e5\"/>\n";
    os << "<line x1=\"" << f2(x) << "\" y1=\"" << f2(bottom) << "\" x2=\"" << f2(x) << "\" y2=\""
       << f2(bottom + 4) << "\" stroke=\"#333333\"/>\n";
    os << "<text class=\"tick\" x=\"" << f2(x) << "\" y=\"" << f2(bottom + 16)
       << "\" text-anchor=\"middle\" font-size=\"10\">" << escape(tick_label(t, ax.step, ax.log))
       << "</text>\n";
  }
  for (double t : ay.ticks) {
    const double y = ay.map(t, bottom, top);
    os << "<line x1=\"" << f2(left) << "\" y1=\"" << f2(y) << "\" x2=\"" << f2(right) << "\" y2=\"" << f2(y)
       << "\" stroke=\"#e5e5e5\"/>\n";
    os << "<line x1=\"" << f2(left - 4) << "\" y1=\"" << f2(y) << "\" x2=\"" << f2(left) << "\" y2=\""
       << f2(y) << "\" stroke=\"#333333\"/>\n";
    os << "<text class=\"tick\" x=\"" << f2(left - 7) << "\" y=\"" << f2(y + 3.5)
       << "\" text-anchor=\"end\" font-size=\"10\">" << escape(tick_label(t, ay.step, ay.log)) << "</text>\n";
  }
  os << "<text x=\"" << f2((left + right) / 2) << "\" y=\"" << f2(bottom + 32)
     << "\" text-anchor=\"middle\" font-size=\"11\">" << escape(p.x_label) << "</text>\n";
  os << "<text x=\"" << f2(ox + 14) << "\" y=\"" << f2((top + bottom) / 2)
     << "\" text-anchor=\"middle\" font-size=\"11\" "
     << "transform=\"rotate(-90 " << f2(ox + 14) << " " << f2((top + bottom) / 2) << ")\">"
     << escape(p.y_label) << "</text>\n";
  // Markers, then curves (on top).
  for (const auto& m : p.markers) {
    if (!std::isfinite(m.x) || m.x < ax.lo || m.x > ax.hi) continue;
    const double x = ax.map(m.x, left, right);
    os << "<line class=\"marker\" x1=\"" << f2(x) << "\" y1=\"" << f2(top) << "\" x2=\"" << f2(x)
       << "\" y2=\"" << f2(bottom) << "\" stroke=\"" << m.color
       << "\" stroke-width=\"1.5\" stroke-dasharray=\"3,3\"/>\n";
    os << "<text class=\"marker-label\" x=\"" << f2(x + 3) << "\" y=\"" << f2(top + 12)
       << "\" font-size=\"10\" fill=\"" << m.color << "\">" << escape(m.label) << "</text>\n";
  }
  for (const auto& s : p.series) {
    std::ostringstream d;
    bool pen = false;
    std::size_t points = 0;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!shown(s.x[i], s.y[i])) {
        pen = false;
        continue;
      }
      d << (pen ? " L" : (points ? " M" : "M")) << f2(ax.map(s.x[i], left, right)) << ","
        << f2(ay.map(s.y[i], bottom, top));
      pen = true;
      ++points;
    }
    if (points == 0) continue;
    os << "<path class=\"series\" data-series=\"" << escape(s.name) << "\" d=\"" << d.str()
       << "\" fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\""
       << (s.dashed ? " stroke-dasharray=\"6,3\"" : "") << "/>\n";
    if (points == 1) {  // a single epoch: a dot, since a one-point path draws nothing
      os << "<circle cx=\"" << f2(ax.map(s.x[0], left, right)) << "\" cy=\""
         << f2(ay.map(s.y[0], bottom, top)) << "\" r=\"3\" fill=\"" << s.color << "\"/>\n";
    }
  }
  // Legend, top right inside the plot.
  double ly = top + 8;
  double lw = 0;
  for (const auto& s : p.series) lw = std::max(lw, 6.0 * static_cast<double>(s.name.size()));
  const double lx = right - lw - 34;
  if (!p.series.empty()) {
    os << "<g class=\"legend\">\n<rect x=\"" << f2(lx - 4) << "\" y=\"" << f2(ly - 4) << "\" width=\""
       << f2(lw + 36) << "\" height=\"" << f2(14.0 * static_cast<double>(p.series.size()) + 6)
       << "\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n";
    for (const auto& s : p.series) {
      os << "<line x1=\"" << f2(lx) << "\" y1=\"" << f2(ly + 5) << "\" x2=\"" << f2(lx + 22) << "\" y2=\""
         << f2(ly + 5) << "\" stroke=\"" << s.color << "\" stroke-width=\"2\""
         << (s.dashed ? " stroke-dasharray=\"6,3\"" : "") << "/>\n<text x=\"" << f2(lx + 27) << "\" y=\""
         << f2(ly + 9) << "\" font-size=\"10\">" << escape(s.name) << "</text>\n";
      ly += 14;
    }
    os << "</g>\n";
  }
  os << "</g>\n";
}

}  // namespace

std::string render(const std::vector<Panel>& panels, const Layout& layout) {
  const int cols =
      std::max(1, std::min<int>(layout.columns, static_cast<int>(std::max<std::size_t>(panels.size(), 1))));
  const int rows =
      static_cast<int>((panels.size() + static_cast<std::size_t>(cols) - 1) / static_cast<std::size_t>(cols));
  const int head = layout.title.empty() ? 8 : 34;
  const int width = cols * layout.panel_width, height = head + std::max(rows, 1) * layout.panel_height;
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
     << "\" viewBox=\"0 0 " << width << " " << height
     << "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!layout.title.empty())
    os << "<text x=\"" << width / 2
       << "\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" << escape(layout.title)
       << "</text>\n";
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const int c = static_cast<int>(i) % cols, r = static_cast<int>(i) / cols;
    render_panel(os, panels[i], c * layout.panel_width, head + r * layout.panel_height, layout.panel_width,
                 layout.panel_height);
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace kiln::nn::train::svg
