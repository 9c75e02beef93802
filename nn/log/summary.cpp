#include "kiln/nn/log/summary.h"

#include <cstring>

#include "kiln/nn/log/proto_encoder.h"

namespace kiln::logs {
namespace {

// Field numbers from tensorboard/compat/proto/{summary,tensor,tensor_shape,types}.proto.
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1, kValueSimple = 2, kValueImage = 4, kValueHisto = 5, kValueTensor = 8,
              kValueMetadata = 9;
constexpr int kMetaPluginData = 1, kMetaDataClass = 4;
constexpr int kPluginName = 1, kPluginContent = 2;
constexpr int kDataClassTensor = 2;
constexpr int kTensorDtype = 1, kTensorShape = 2, kTensorContent = 4, kTensorFloatVal = 5,
              kTensorStringVal = 8;
constexpr int kShapeDim = 2, kDimSize = 1;
constexpr int kDtFloat = 1, kDtString = 7;
constexpr int kImageHeight = 1, kImageWidth = 2, kImageColorspace = 3, kImageEncoded = 4;

std::string wrap(const ProtoEncoder& value) {
  ProtoEncoder summary;
  summary.add_message(kSummaryValue, value);
  return summary.take();
}

ProtoEncoder value_with_tag(const std::string& tag) {
  ProtoEncoder v;
  v.add_bytes(kValueTag, tag);
  return v;
}

ProtoEncoder plugin_metadata(const std::string& plugin, const std::string& content) {
  ProtoEncoder data;
  data.add_bytes(kPluginName, plugin);
  data.add_bytes(kPluginContent, content);
  ProtoEncoder meta;
  meta.add_message(kMetaPluginData, data);
  meta.add_varint(kMetaDataClass, kDataClassTensor);
  return meta;
}

ProtoEncoder shape(std::initializer_list<int64_t> dims) {
  ProtoEncoder s;
  for (int64_t d : dims) {
    ProtoEncoder dim;
    dim.add_int64(kDimSize, d);
    s.add_message(kShapeDim, dim);
  }
  return s;
}

}  // namespace

std::string scalar_summary(const std::string& tag, float value) {
  ProtoEncoder v = value_with_tag(tag);
  v.add_float(kValueSimple, value, /*always=*/true);
  return wrap(v);
}

std::string histogram_summary(const std::string& tag, const Histogram& histogram) {
  ProtoEncoder v = value_with_tag(tag);
  v.add_bytes(kValueHisto, encode_histogram(histogram));
  return wrap(v);
}

std::string image_summary(const std::string& tag, const std::string& png, int64_t height, int64_t width,
                          int channels) {
  ProtoEncoder image;
  image.add_int64(kImageHeight, height);
  image.add_int64(kImageWidth, width);
  image.add_int64(kImageColorspace, channels);  // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  image.add_bytes(kImageEncoded, png);
  ProtoEncoder v = value_with_tag(tag);
  v.add_message(kValueImage, image);
  return wrap(v);
}

std::string text_summary(const std::string& tag, const std::string& text) {
  ProtoEncoder tensor;
  tensor.add_varint(kTensorDtype, kDtString);
  tensor.add_message(kTensorShape, shape({1}));
  tensor.add_bytes(kTensorStringVal, text);
  ProtoEncoder v = value_with_tag(tag);
  v.add_message(kValueMetadata, plugin_metadata(kTextPlugin, /*TextPluginData version 0=*/""));
  v.add_message(kValueTensor, tensor);
  return wrap(v);
}

std::string pr_curve_summary(const std::string& tag, std::span<const float> data, int num_thresholds) {
  ProtoEncoder content;  // PrCurvePluginData {int32 version = 1; uint32 num_thresholds = 2}
  content.add_varint(2, static_cast<uint64_t>(num_thresholds));
  ProtoEncoder tensor;
  tensor.add_varint(kTensorDtype, kDtFloat);
  tensor.add_message(kTensorShape, shape({6, num_thresholds}));
  // tensor_content is the raw little-endian array, the compact form for non-scalar tensors.
  std::string raw(data.size() * sizeof(float), '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &data[i], 4);
    for (int b = 0; b < 4; ++b) raw[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  tensor.add_bytes(kTensorContent, raw);
  ProtoEncoder v = value_with_tag(tag);
  v.add_message(kValueMetadata, plugin_metadata(kPrCurvePlugin, content.bytes()));
  v.add_message(kValueTensor, tensor);
  return wrap(v);
}

std::string plugin_summary(const std::string& tag, const std::string& plugin, const std::string& content) {
  // The scalar 0.0f placeholder tensor TensorBoard's own HParams writer attaches.
  ProtoEncoder tensor;
  tensor.add_varint(kTensorDtype, kDtFloat);
  tensor.add_message(kTensorShape, shape({}));
  const float zero = 0.0f;
  tensor.add_packed_floats(kTensorFloatVal, {&zero, 1});
  ProtoEncoder v = value_with_tag(tag);
  v.add_message(kValueMetadata, plugin_metadata(plugin, content));
  v.add_message(kValueTensor, tensor);
  return wrap(v);
}

}  // namespace kiln::logs
