// Models, data and trained weights shared by the export tests: the demo's MLP and CNN, a
// depthwise-separable CNN and a custom residual/concatenation module, each trained briefly on real
// Fashion-MNIST so the interpreters' outputs and accuracies are compared on a meaningful model.
#pragma once

#include <string>
#include <vector>

#include <kiln/kiln.h>

namespace kiln::test {

struct ExportData {
  Tensor train_x, train_y;  // 60000 training images (N, 1, 28, 28) f32 in [0, 1], labels i64
  Tensor test_x, test_y;    // the 10000 test images
};
// Loaded once per program (data::FashionMNIST::load()).
const ExportData& export_data();

nn::ModulePtr make_mlp();            // the demo's MLP
nn::ModulePtr make_cnn();            // the demo's CNN
nn::ModulePtr make_depthwise_cnn();  // conv, depthwise (stride 2), pointwise, relu6, global average
nn::ModulePtr make_residual_net();   // residual add, concatenation, avg pool, tanh, softmax
// `steps` Adam steps of batch 64 on the training images (seeded), then eval mode.
void train_briefly(nn::Module& model, int steps, double lr = 1e-3);
// The named model, built and trained once per program.
nn::Module& trained(const std::string& name);
// kiln's eval-mode outputs of model for x, computed in batches.
Tensor kiln_outputs(nn::Module& model, const Tensor& x);
double accuracy(const Tensor& logits, const Tensor& labels);

// Raw little-endian float32 / int64 files for the python validators (numpy.fromfile).
void write_raw(const std::string& path, const Tensor& t);
// A fresh temporary folder for one test's files.
std::string temp_folder(const std::string& tag);

}  // namespace kiln::test
