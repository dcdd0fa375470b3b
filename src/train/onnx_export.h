// ONNX export: the trained network as a standard ONNX model (IR version 8, opset 17), built
// with the ONNX protobuf schema of Debian's libonnx-dev, which ONNX Runtime and every ONNX tool
// load.
//
//   input          "images"        float32 [batch, C, H, W]: pixels / 255, NCHW; batch dynamic
//   conv layers    Conv (OIHW weights, SAME padding, stride 1) [+ Relu]
//   max-pool       MaxPool (window = stride, no padding)
//   dense layers   Flatten (from an image, C-H-W order) + Gemm (transB) [+ Relu]
//   dropout        left out (identity at inference)
//   outputs        "logits"        float32 [batch, classes]
//                  "probabilities" float32 [batch, classes]: Softmax over the classes
// The parameters are initializers named as in the ParameterLayout (conv1/kernel, ...).
#pragma once

#include <string>

#include "dtrain/nn/model.h"

namespace dtrain::train {

// True for paths the ONNX writer takes (".onnx").
bool is_onnx_path(const std::string& path);

// Writes the model with `params` (a whole flat parameter buffer) to `path`, atomically, after
// ONNX's own checker accepted it. A layer ONNX cannot express is an Error naming it.
void write_onnx_model(const std::string& path, const nn::Model& model, const float* params);

}  // namespace dtrain::train
