#include "nn/dnnl_context.h"

#include "dtrain/util/error.h"

namespace dtrain::nn {

using tag = dnnl::memory::format_tag;

tag plain_tag(int ndims) {
  switch (ndims) {
    case 1:
      return tag::a;
    case 2:
      return tag::ab;
    case 3:
      return tag::abc;
    case 4:
      return tag::abcd;
    default:
      throw Error("unsupported tensor rank " + std::to_string(ndims));
  }
}

const dnnl::memory& LayoutAdapter::adapt(DnnlContext& ctx, const dnnl::memory& in,
                                         const dnnl::memory::desc& want) {
  const auto have = in.get_desc();
  if (have == want) return in;
  if (!buffer_ || from_ != have || buffer_.get_desc() != want) {
    buffer_ = dnnl::memory(want, ctx.engine);
    reorder_ = dnnl::reorder(in, buffer_);
    from_ = have;
  }
  reorder_.execute(ctx.stream, {{DNNL_ARG_FROM, in}, {DNNL_ARG_TO, buffer_}});
  return buffer_;
}

dnnl::primitive_attr relu_attr(bool relu) {
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  return attr;
}

void reorder_now(DnnlContext& ctx, const dnnl::memory& src, const dnnl::memory& dst) {
  dnnl::reorder(src, dst).execute(ctx.stream, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}

void run_forward(DnnlContext& ctx, const dnnl::primitive& p, const dnnl::memory& src,
                 const dnnl::memory& weights, const dnnl::memory& bias, const dnnl::memory& dst) {
  p.execute(ctx.stream, {{DNNL_ARG_SRC, src},
                         {DNNL_ARG_WEIGHTS, weights},
                         {DNNL_ARG_BIAS, bias},
                         {DNNL_ARG_DST, dst}});
}

void run_backward_weights(DnnlContext& ctx, const dnnl::primitive& p, const dnnl::memory& src,
                          const dnnl::memory& diff_dst, const dnnl::memory& diff_weights,
                          const dnnl::memory& diff_bias) {
  p.execute(ctx.stream, {{DNNL_ARG_SRC, src},
                         {DNNL_ARG_DIFF_DST, diff_dst},
                         {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                         {DNNL_ARG_DIFF_BIAS, diff_bias}});
}

void run_backward_data(DnnlContext& ctx, const dnnl::primitive& p, const dnnl::memory& diff_dst,
                       const dnnl::memory& weights, const dnnl::memory& diff_src) {
  p.execute(
      ctx.stream,
      {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src}});
}

}  // namespace dtrain::nn
