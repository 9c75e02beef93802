// The progress bar: redrawn in place on a terminal (a real pseudo-terminal here, with its window size),
// one line per epoch in a log.
#include <gtest/gtest.h>

#include <pty.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "support/helpers.h"
#include "support/train_fixtures.h"

using namespace kiln;
namespace T = kiln::nn::train;
using kiln::testing::blobs;
using kiln::testing::mlp;

namespace {

// Trains 2 epochs of 10 batches with a ProgressBar writing to `stream`.
void train_with_bar(std::FILE* stream, int verbose) {
  manual_seed(1);
  auto train = blobs(100, 4, 2);
  auto model = mlp(4, 8, 2);
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  data::DataLoader loader(train, {.batch_size = 10});
  auto bar = std::make_shared<T::ProgressBar>(
      T::ProgressBarOptions{.stream = stream, .verbose = verbose, .refresh_seconds = 0});
  T::fit(*model, opt, loader, {},
         {.epochs = 2, .metrics = {"accuracy"}, .verbose = 0, .callbacks = {bar}, .diagnostics = false});
  EXPECT_EQ(bar->interactive(), verbose == 1 && ::isatty(fileno(stream)));
}

// What a terminal of `cols` columns receives while training.
std::string through_pty(unsigned short cols, int verbose) {
  int master = -1, slave = -1;
  winsize ws{};
  ws.ws_row = 24, ws.ws_col = cols;
  if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0) {
    ADD_FAILURE() << "openpty failed: " << std::strerror(errno);
    return "";
  }
  std::string received;
  // The pty's buffer is small: read concurrently so the writer never blocks.
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO once the slave side is closed
      received.append(buf, static_cast<size_t>(n));
    }
  });
  std::FILE* out = ::fdopen(slave, "w");
  train_with_bar(out, verbose);
  std::fclose(out);
  reader.join();
  ::close(master);
  return received;
}

}  // namespace

TEST(TrainProgress, TerminalRedrawsInPlaceWithinTheWidth) {
  const std::string out = through_pty(100, 1);
  EXPECT_CONTAINS(out, "\r");
  EXPECT_CONTAINS(out, "\x1b[K");  // erase to end of line: no leftovers, no blank frame
  EXPECT_CONTAINS(out, "ETA");
  EXPECT_CONTAINS(out, "samples/s");
  EXPECT_CONTAINS(out, "10/10");
  EXPECT_CONTAINS(out, "[==");
  EXPECT_CONTAINS(out, "accuracy:");
  // One finished line per epoch (the terminal turns "\n" into "\r\n"); the frames in between never wrap.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  size_t frames = 0;
  size_t start = 0;
  while ((start = out.find('\r', start)) != std::string::npos) {
    size_t end = out.find_first_of("\r\n", start + 1);
    std::string frame = out.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    if (auto esc = frame.find("\x1b[K"); esc != std::string::npos) frame.resize(esc);
    if (frame.rfind("Epoch 1/2 ", 0) == 0 && frame.find(" - ETA") != std::string::npos) ++frames;
    EXPECT_LT(frame.size(), 100u) << frame;
    start = end == std::string::npos ? out.size() : end;
  }
  EXPECT_GE(frames, 10u) << "a redraw per batch with refresh_seconds = 0";
}

TEST(TrainProgress, NarrowTerminalCutsTheLine) {
  const std::string out = through_pty(40, 1);
  size_t start = 0;
  bool saw_frame = false;
  while ((start = out.find('\r', start)) != std::string::npos) {
    size_t end = out.find_first_of("\r\n", start + 1);
    std::string frame = out.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    if (auto esc = frame.find("\x1b[K"); esc != std::string::npos) frame.resize(esc);
    // Epoch summary lines may be longer (they end with a newline and scroll); live frames must fit.
    if (frame.find(" - ETA") != std::string::npos || frame.find("/10") != std::string::npos) {
      saw_frame = true;
      EXPECT_LT(frame.size(), 40u) << frame;
    }
    start = end == std::string::npos ? out.size() : end;
  }
  EXPECT_TRUE(saw_frame);
}

TEST(TrainProgress, NotATerminalGivesOneLinePerEpoch) {
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  train_with_bar(log, 1);
  std::rewind(log);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, log)) > 0) out.append(buf, n);
  std::fclose(log);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_EQ(out.rfind("Epoch 1/2 - ", 0), 0u) << out;
  EXPECT_CONTAINS(out, "\nEpoch 2/2 - ");
  EXPECT_CONTAINS(out, " samples/s - accuracy: ");
  EXPECT_CONTAINS(out, " - loss: ");
  EXPECT_CONTAINS(out, " - lr: 1.00e-01");
}

TEST(TrainProgress, VerboseTwoPrintsEpochLinesEvenOnATerminal) {
  const std::string out = through_pty(100, 2);
  EXPECT_EQ(out.find("ETA"), std::string::npos);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_CONTAINS(out, "Epoch 2/2 - ");
}

TEST(TrainProgress, EpochLineFormat) {
  EXPECT_EQ(
      T::ProgressBar::epoch_line(2, 15, 4.06, 13446.4, {{"loss", 0.30123}, {"lr", 1e-3}, {"val_loss", 0.5}}),
      "Epoch 3/15 - 4.1s - 13446 samples/s - loss: 0.3012 - lr: 1.00e-03 - val_loss: 0.5000");
}
