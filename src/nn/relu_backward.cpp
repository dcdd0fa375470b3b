#include "nn/relu_backward.h"

namespace dtrain::nn {

using namespace dnnl;

ReluBackward::ReluBackward(DnnlContext& ctx, const memory::desc& dst_desc) : desc_(dst_desc) {
  const auto alg = algorithm::eltwise_relu_use_dst_for_bwd;
  eltwise_forward::primitive_desc hint(
      eltwise_forward::desc(prop_kind::forward_training, alg, dst_desc, 0.f, 0.f), ctx.engine);
  eltwise_backward::primitive_desc pd(eltwise_backward::desc(alg, dst_desc, dst_desc, 0.f, 0.f),
                                      ctx.engine, hint);
  prim_ = eltwise_backward(pd);
  diff_src_ = memory(pd.diff_src_desc(), ctx.engine);
}

const memory& ReluBackward::run(DnnlContext& ctx, const memory& dst, const memory& diff_dst) {
  const memory& dy = adapter_.adapt(ctx, diff_dst, desc_);
  prim_.execute(ctx.stream,
                {{DNNL_ARG_DST, dst}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, diff_src_}});
  return diff_src_;
}

}  // namespace dtrain::nn
