// Backward of a ReLU that was fused into the forward primitive as a post-op.
//
// The forward kept only the post-ReLU output y, so the gradient is taken from y
// (eltwise_relu_use_dst_for_bwd: dx = dy where y > 0, else 0): no pre-activation is stored.
#pragma once

#include "nn/dnnl_context.h"

namespace dtrain::nn {

class ReluBackward {
 public:
  ReluBackward() = default;
  // dst_desc: layout of the fused primitive's output, used for y, dy and dx alike.
  ReluBackward(DnnlContext& ctx, const dnnl::memory::desc& dst_desc);
  // Returns dx for the given y and dy (dy adapted to dst_desc if needed).
  const dnnl::memory& run(DnnlContext& ctx, const dnnl::memory& dst, const dnnl::memory& diff_dst);

 private:
  dnnl::memory::desc desc_;
  dnnl::eltwise_backward prim_;
  dnnl::memory diff_src_;
  LayoutAdapter adapter_;
};

}  // namespace dtrain::nn
