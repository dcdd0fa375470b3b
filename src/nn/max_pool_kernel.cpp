#include "nn/max_pool_kernel.h"

#include "nn/isa/loops.h"

namespace dtrain::nn {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

std::optional<PoolGeometry> pool_geometry(const dnnl::memory::desc& src) {
  const dnnl::memory::dims d = src.dims();
  const dt type = src.data_type();
  if (d.size() != 4 || (type != dt::f32 && type != dt::bf16)) return std::nullopt;
  for (auto [t, block] : {std::pair{tag::nchw, 1}, {tag::nChw8c, 8}, {tag::nChw16c, 16}}) {
    if (src != dnnl::memory::desc(d, type, t)) continue;
    return PoolGeometry{
        d[0], d[1], (d[1] + block - 1) / block, d[2], d[3], block, t, type == dt::bf16};
  }
  return std::nullopt;
}

bool pool_writes_diff_src_as(const PoolGeometry& g, tag layout) {
  return layout == g.layout || (layout == tag::nhwc && g.channels % g.block == 0);
}

void max_pool2x2_forward(const PoolGeometry& g, const float* src, float* dst, uint8_t* argmax,
                         bool relu) {
  static const auto loops = DTRAIN_ISA_PICK(pool_forward);
  loops(g, src, dst, argmax, relu);
}

void max_pool2x2_forward_bf16(const PoolGeometry& g, const uint16_t* src, uint16_t* dst,
                              bool relu) {
  static const auto loops = DTRAIN_ISA_PICK(pool_forward_bf16);
  loops(g, src, dst, relu);
}

void max_pool2x2_backward(const PoolGeometry& g, const float* diff_dst, const uint8_t* argmax,
                          float* diff_src, tag layout) {
  static const auto loops = DTRAIN_ISA_PICK(pool_backward);
  loops(g, diff_dst, argmax, diff_src, layout == tag::nhwc);  // never the input's layout
}

}  // namespace dtrain::nn
