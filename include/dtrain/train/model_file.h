// Exported models: a self-contained inference model (architecture and weights, no optimizer
// state) as HDF5 that h5py reads and `mnist_train --mode inference --model` loads.
//
//   attributes on /       dtrain_format = "dtrain-model-v1", model (layer list, e.g.
//                         "conv:5:32:relu,maxpool:2,..."), input_shape "C,H,W", num_classes,
//                         trained_steps, test_accuracy
//   /params/<layer>/kernel  float32; conv [out, in, kh, kw] (OIHW); dense [out, in] with the
//                           input flattened in C, H, W order ([out, C, H, W] when the input is an
//                           image); attribute "layout" says which
//   /params/<layer>/bias    float32 [out]
//
// Inference mode also loads checkpoints (the same /params layout).
#pragma once

#include <string>
#include <vector>

#include "dtrain/nn/model.h"

namespace dtrain::train {

void write_model_file(const std::string& path, const nn::Model& model, const float* params,
                      int64_t trained_steps, double test_accuracy);
// --export: an ONNX model when the path ends in ".onnx" (src/train/onnx_export.h says what it
// holds), this HDF5 model file otherwise.
void save_model(const std::string& path, const nn::Model& model, const float* params,
                int64_t trained_steps, double test_accuracy);
// Reads /params of a model file or checkpoint into a flat buffer for `model`.
std::vector<float> read_model_params(const std::string& path, const nn::Model& model);

}  // namespace dtrain::train
