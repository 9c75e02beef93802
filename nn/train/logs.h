// kiln/nn/train/logs.h: the logs of an epoch (or of an evaluation), as Keras's logs dict: a value per name.
// Training keys are the loss and metric names ("loss", "accuracy"), validation keys carry the "val_"
// prefix ("val_loss", "val_accuracy"), and "lr" is the learning rate of parameter group 0 during the epoch.
// Depends on nothing.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace kiln::nn::train {

using Logs = std::map<std::string, double>;

// Whether a monitored value improves downwards or upwards. automatic: max for names containing "acc",
// "auc", "precision", "recall", "f1" or "r2" (with or without "val_"), min otherwise (losses, errors).
enum class Mode { automatic, min, max };
// The resolved direction of `monitor` (never automatic).
Mode resolve_mode(const std::string& monitor, Mode mode);

// The keys of `logs`, comma-separated, for error messages that name what is available.
std::string join_keys(const Logs& logs);
std::string join_keys(const std::vector<std::string>& keys);

}  // namespace kiln::nn::train
