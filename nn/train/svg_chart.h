// kiln/nn/train/svg_chart.h: a small line-chart writer for self-contained SVG (no external plotting
// dependency): panels with axes, "nice" ticks (1, 2, 5 x 10^k; decades on a log axis), a legend, curves
// and vertical markers. History::to_svg and LRFindResult::to_svg draw with it. Depends on nothing.
#pragma once

#include <string>
#include <vector>

namespace kiln::nn::train::svg {

struct Series {
  std::string name;          // the legend text; also the data-series attribute of its <path>
  std::vector<double> x, y;  // points; non-finite y values break the curve
  std::string color;
  bool dashed = false;
};

struct Marker {
  double x;
  std::string label;
  std::string color = "#888888";
};

struct Panel {
  std::string title;
  std::string x_label, y_label;
  std::vector<Series> series;
  std::vector<Marker> markers;
  bool log_x = false, log_y = false;
  // The y range to show; points outside it are left out (a spike then does not flatten the curve).
  // Unset: the range of the data.
  bool has_y_limits = false;
  double y_min = 0, y_max = 0;
};

struct Layout {
  std::string title;
  int panel_width = 420, panel_height = 260, columns = 2;
};

// The whole document: panels in a grid, row by row.
std::string render(const std::vector<Panel>& panels, const Layout& layout);

// Escapes &, <, >, " for text and attribute values.
std::string escape(const std::string& s);

}  // namespace kiln::nn::train::svg
