// tf.train.Example <-> (image, label), with the feature names and encodings of the two common
// MNIST layouts:
//  - kInt64 (TensorFlowOnSpark): "image" int64_list of H*W values 0..255, "label" int64_list.
//  - kBytes (TPUEstimator):      "image_raw" bytes_list of H*W raw bytes, "label" int64.
// The reader also takes float_list images (values in [0, 1]) and one-hot int64_list labels.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "dtrain/data/example_source.h"

namespace dtrain::data {

struct FeatureNames {
  std::string image = "image";
  std::string label = "label";
};

// "image=image_raw,label=label"; a key left out keeps its default. Throws OptionError.
FeatureNames parse_feature_names(const std::string& spec, FeatureNames defaults = {});

enum class ExampleLayout { kInt64, kBytes };
// Throws OptionError for names other than int64/tfos and bytes/tpu.
ExampleLayout parse_example_layout(const std::string& s);
// The feature names a writer uses for a layout.
FeatureNames layout_feature_names(ExampleLayout layout);

// Serialises one example. The bytes layout also records height, width and depth, as
// TensorFlow's convert_to_records does.
std::string encode_example(std::span<const std::uint8_t> pixels, int label, ExampleLayout layout,
                           ImageShape shape);

// The image shape an Example holds: from int64 "height", "width" and "depth" (or "channels")
// features when present (checked against the number of image values), else square with one
// channel. Throws DataError saying what does not fit.
ImageShape example_image_shape(std::span<const std::uint8_t> record, const FeatureNames& names);

// Parses a serialised Example into `pixels` floats in [0, 1] and the label. Throws DataError
// with a message that says which feature is missing or malformed and what was expected (the
// caller adds file and offset).
// With label_optional, a record without the label feature gets label -1.
void decode_example(std::span<const std::uint8_t> record, const FeatureNames& names,
                    std::int64_t pixels, int num_classes, float* image, std::int32_t* label,
                    bool label_optional = false);

}  // namespace dtrain::data
