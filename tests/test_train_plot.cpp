// History and lr_find pictures: rendered by a real SVG renderer (rsvg-convert, Debian's librsvg2-bin) into
// a PNG that must show something, and parsed by a real XML parser (Python's xml.etree) to find one curve
// per series in each panel, with ticks, a legend and the best-epoch marker.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/helpers.h"
#include "support/python_validator.h"
#include "support/train_fixtures.h"

using namespace kiln;
namespace T = kiln::nn::train;
namespace fs = std::filesystem;

namespace {

// Decodes the PNG with zlib (8-bit RGB/RGBA, no interlace), parses the SVG, prints:
//   png <width> <height> <fraction of non-white pixels> <distinct colours>
//   panel <title>|<series,...>|<ticks>|<legend entries>|<markers>
const char* kInspect = R"PY(
import struct, sys, zlib
import xml.etree.ElementTree as ET
svg, png = sys.argv[1], sys.argv[2]
data = open(png, 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        bpp = 4 if ctype == 6 else 3
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
nonwhite, colours = 0, set()
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = tuple(line[x:x + 3])
        alpha = line[x + 3] if bpp == 4 else 255
        if alpha > 0 and px != (255, 255, 255):
            nonwhite += 1
        colours.add(px)
    prev = line
print('png', w, h, nonwhite / float(w * h), len(colours))
ns = {'s': 'http://www.w3.org/2000/svg'}
root = ET.parse(svg).getroot()
for g in root.iter('{http://www.w3.org/2000/svg}g'):
    if g.get('class') != 'panel':
        continue
    series = [p.get('data-series') for p in g.iter('{http://www.w3.org/2000/svg}path') if p.get('class') == 'series']
    ticks = [t for t in g.iter('{http://www.w3.org/2000/svg}text') if t.get('class') == 'tick']
    legend = [t for lg in g.iter('{http://www.w3.org/2000/svg}g') if lg.get('class') == 'legend'
              for t in lg.iter('{http://www.w3.org/2000/svg}text')]
    markers = [l for l in g.iter('{http://www.w3.org/2000/svg}line') if l.get('class') == 'marker']
    print('panel %s|%s|%d|%d|%d' % (g.get('data-title'), ','.join(series), len(ticks), len(legend), len(markers)))
)PY";

struct Inspection {
  int width = 0, height = 0, colours = 0;
  double nonwhite = 0;
  struct Panel {
    std::string series;
    int ticks = 0, legend = 0, markers = 0;
  };
  std::map<std::string, Panel> panels;
};

Inspection render_and_inspect(const std::string& svg_text, const std::string& name) {
  Inspection r;
  fs::path dir = fs::temp_directory_path() / ("kiln_plot_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string svg = (dir / "plot.svg").string(), png = (dir / "plot.png").string();
  { std::ofstream(svg) << svg_text; }
  const std::string cmd = "rsvg-convert -o '" + png + "' '" + svg + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    ADD_FAILURE() << "rsvg-convert failed (exit " << rc
                  << "); install librsvg2-bin (scripts/install-deps.sh)";
    return r;
  }
  std::string why;
  if (!kiln::test::python_has({"xml.etree.ElementTree", "zlib"}, &why, "/usr/bin/python3")) {
    ADD_FAILURE() << why;
    return r;
  }
  auto res = kiln::test::run_python(kInspect, {svg, png}, "/usr/bin/python3");
  EXPECT_EQ(res.exit_code, 0) << res.output;
  std::istringstream in(res.output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("png ", 0) == 0) {
      std::istringstream l(line.substr(4));
      l >> r.width >> r.height >> r.nonwhite >> r.colours;
    } else if (line.rfind("panel ", 0) == 0) {
      std::vector<std::string> parts;
      std::stringstream l(line.substr(6));
      std::string p;
      while (std::getline(l, p, '|')) parts.push_back(p);
      if (parts.size() == 5)
        r.panels[parts[0]] = {parts[1], std::stoi(parts[2]), std::stoi(parts[3]), std::stoi(parts[4])};
    }
  }
  fs::remove_all(dir);
  return r;
}

}  // namespace

TEST(TrainPlot, HistorySvgRendersWithOneCurvePerSeries) {
  T::History h;
  for (int e = 0; e < 12; ++e) {
    const double t = e;
    h.append(e, {{"loss", 1.0 / (1 + t)},
                 {"accuracy", 0.6 + 0.03 * t},
                 {"val_loss", 0.9 / (1 + 0.5 * t) + (e > 7 ? 0.02 * (t - 7) : 0)},
                 {"val_accuracy", 0.58 + 0.025 * t},
                 {"lr", 1e-3 * std::pow(0.8, t)}});
  }
  Inspection r = render_and_inspect(h.to_svg(), "history");
  EXPECT_EQ(r.width, 840);
  EXPECT_GT(r.nonwhite, 0.01) << "the PNG is (nearly) blank";
  EXPECT_GE(r.colours, 4) << "curves in several colours";
  ASSERT_EQ(r.panels.size(), 3u);
  EXPECT_EQ(r.panels["loss"].series, "train loss,val_loss");
  EXPECT_EQ(r.panels["accuracy"].series, "train accuracy,val_accuracy");
  EXPECT_EQ(r.panels["learning rate"].series, "lr");
  for (auto& [title, p] : r.panels) {
    EXPECT_GE(p.ticks, 6) << title;  // both axes
    EXPECT_EQ(p.legend, static_cast<int>(std::count(p.series.begin(), p.series.end(), ',') + 1)) << title;
    EXPECT_EQ(p.markers, 1) << title << ": the best epoch";
  }
  EXPECT_CONTAINS(h.to_svg(), "best val_loss (epoch ");
}

TEST(TrainPlot, FitHistoryAndLrFindPlots) {
  manual_seed(3);
  auto train = kiln::testing::blobs(300, 4, 3);
  auto model = kiln::testing::mlp(4, 16, 3);
  optim::SGD opt(model->parameters(), {.lr = 0.05});
  data::DataLoader loader(train, {.batch_size = 30, .shuffle = true});
  T::LRFindResult lr = T::lr_find(*model, opt, loader, {.num_iter = 60});
  Inspection lf = render_and_inspect(lr.to_svg(), "lr_find");
  EXPECT_GT(lf.nonwhite, 0.01);
  ASSERT_EQ(lf.panels.size(), 1u);
  EXPECT_EQ(lf.panels.begin()->second.series, "loss,smoothed loss");
  EXPECT_EQ(lf.panels.begin()->second.markers, 2);

  T::History h =
      T::fit(*model, opt, loader, train,
             {.epochs = 3, .metrics = {"accuracy", "f1_macro"}, .verbose = 0, .diagnostics = false});
  Inspection r = render_and_inspect(h.to_svg(), "fit");
  EXPECT_EQ(r.panels.size(), 4u);
  EXPECT_EQ(r.panels["f1_macro"].series, "train f1_macro,val_f1_macro");
}
