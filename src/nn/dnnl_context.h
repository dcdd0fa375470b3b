// The oneDNN engine and stream every layer runs on, and the explicit-reorder helper the layers
// use wherever a primitive wants its data in a layout other than the one it was handed.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "dtrain/nn/precision.h"

namespace dtrain::nn {

struct DnnlContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  Precision precision = Precision::kFp32;  // of the convolutions and dense layers
};

// Plain (user-visible) layout for a tensor of the given rank: nc, nchw, oihw...
dnnl::memory::format_tag plain_tag(int ndims);

// Gives a primitive its input in the layout it asked for. When the incoming memory already has
// that layout it is passed through untouched; otherwise it is reordered into a buffer owned
// here. The reorder primitive is built once for a given source layout and reused.
class LayoutAdapter {
 public:
  const dnnl::memory& adapt(DnnlContext& ctx, const dnnl::memory& in,
                            const dnnl::memory::desc& want);

 private:
  dnnl::memory::desc from_;
  dnnl::memory buffer_;
  dnnl::reorder reorder_;
};

// Primitive attributes with a fused ReLU post-op when relu is set (empty attributes otherwise).
dnnl::primitive_attr relu_attr(bool relu);

// The three passes of a layer with weights and a bias (convolution, inner product), with the
// arguments oneDNN names.
void run_forward(DnnlContext& ctx, const dnnl::primitive& p, const dnnl::memory& src,
                 const dnnl::memory& weights, const dnnl::memory& bias, const dnnl::memory& dst);
void run_backward_weights(DnnlContext& ctx, const dnnl::primitive& p, const dnnl::memory& src,
                          const dnnl::memory& diff_dst, const dnnl::memory& diff_weights,
                          const dnnl::memory& diff_bias);
void run_backward_data(DnnlContext& ctx, const dnnl::primitive& p, const dnnl::memory& diff_dst,
                       const dnnl::memory& weights, const dnnl::memory& diff_src);

// The f32 buffer behind a CPU memory, for dtrain's own loops.
inline float* f32_data(const dnnl::memory& m) {
  return static_cast<float*>(m.get_data_handle());
}

// Copies src into dst, converting layout (both memories already exist).
void reorder_now(DnnlContext& ctx, const dnnl::memory& src, const dnnl::memory& dst);

}  // namespace dtrain::nn
