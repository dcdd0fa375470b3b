#include "nn/conv2d.h"

#include <optional>
#include <string>

#include "dtrain/util/error.h"
#include "nn/conv_ic1_backward_weights.h"
#include "nn/init.h"
#include "nn/relu_backward.h"
#include "nn/verbose_exec.h"

namespace dtrain::nn {

using namespace dnnl;
using dt = memory::data_type;
using tag = memory::format_tag;

Conv2D::Conv2D(std::string name, Shape in, int kernel, int filters, bool relu,
               ParameterLayout& layout)
    : Layer(std::move(name), in, Shape{filters, in.h, in.w}),
      kernel_(kernel),
      filters_(filters),
      relu_(relu) {
  if (in.flat) throw Error(this->name() + ": a convolution needs an image-shaped input");
  if (kernel < 1 || filters < 1) throw Error(this->name() + ": kernel and filters must be >= 1");
  kernel_offset_ = declare(layout, "kernel", {filters, in.c, kernel, kernel});
  bias_offset_ = declare(layout, "bias", {filters});
}

std::string Conv2D::describe() const {
  return "conv " + std::to_string(kernel_) + "x" + std::to_string(kernel_) + "x" +
         std::to_string(filters_) + " SAME" + (relu_ ? " + ReLU" : "");
}

int64_t Conv2D::forward_macs() const {
  return out_shape().size() * in_shape().c * kernel_ * kernel_;
}

void Conv2D::init_params(std::span<float> params, Rng& rng) const {
  const int64_t area = int64_t{kernel_} * kernel_;
  const auto n = static_cast<std::size_t>(filters_ * in_shape().c * area);
  glorot_uniform(params.subspan(kernel_offset_, n), in_shape().c * area, filters_ * area, rng);
}

namespace {

class Conv2DInstance final : public LayerInstance {
 public:
  Conv2DInstance(const Conv2D& layer, const CompileArgs& a) : ctx_(*a.ctx) {
    const Shape in = layer.in_shape(), out = layer.out_shape();
    const int64_t k = layer.kernel(), pad_l = (k - 1) / 2, pad_r = k - 1 - pad_l;
    const memory::dims strides{1, 1}, pl{pad_l, pad_l}, pr{pad_r, pad_r};
    const memory::dims w_dims{layer.filters(), in.c, k, k}, b_dims{layer.filters()};
    // bf16: the primitives read bf16 inputs, weights and incoming gradients. In training they
    // write fp32 (the layers after keep their fp32 loops and gradients), and the first layer
    // stays fp32 (its backward-weights is dtrain's own fp32 loop). In inference every
    // convolution reads and writes bf16: the pools then move half the bytes
    // (max_pool2x2_forward_bf16) and the next layer reads their output without a conversion.
    bf16_ = ctx_.precision == Precision::kBf16 && (in.c > 1 || !a.training);
    const dt low = bf16_ ? dt::bf16 : dt::f32;
    const memory::desc src_any(activation_dims(a.batch, in), low, tag::any);
    const memory::desc diff_src_any(activation_dims(a.batch, in), dt::f32, tag::any);
    const memory::desc dst_any(activation_dims(a.batch, out), a.training ? dt::f32 : low, tag::any);
    const memory::desc diff_dst_any(activation_dims(a.batch, out), low, tag::any);
    const memory::desc w_any(w_dims, low, tag::any), w_plain(w_dims, dt::f32, tag::oihw);
    const memory::desc diff_w_any(w_dims, dt::f32, tag::any);
    const memory::desc b_md(b_dims, dt::f32, tag::a);
    auto& eng = ctx_.engine;

    const primitive_attr attr = relu_attr(layer.relu());
    // forward_training for inference too: oneDNN 2.6's forward_inference kernel for conv2 ran
    // 5-8% slower here (AMD Zen 4, fp32, batch 1000).
    const auto prop = prop_kind::forward_training;
    convolution_forward::primitive_desc fwd_pd(
        convolution_forward::desc(prop, algorithm::convolution_direct, src_any, w_any, b_md,
                                  dst_any, strides, pl, pr),
        attr, eng);
    fwd_ = convolution_forward(fwd_pd);
    src_desc_ = fwd_pd.src_desc();
    user_w_ = memory(w_plain, eng, a.params + layer.kernel_offset());
    bias_ = memory(b_md, eng, a.params + layer.bias_offset());
    w_ = memory(fwd_pd.weights_desc(), eng);
    dst_ = memory(fwd_pd.dst_desc(), eng);
    if (!a.training) return;

    if (layer.relu()) relu_ = std::make_unique<ReluBackward>(ctx_, fwd_pd.dst_desc());
    user_diff_w_ = memory(w_plain, eng, a.grads + layer.kernel_offset());
    diff_bias_ = memory(b_md, eng, a.grads + layer.bias_offset());
    // One input channel (the first layer): backward-weights reads diff_dst channels-last,
    // which the 2x2 pool after it writes (preferred_diff_dst), so no reorder is needed; other
    // layers get one. dtrain's own loops (nn/conv_ic1_backward_weights.h) do this pass when
    // they take the geometry; oneDNN's best kernel for it otherwise, also channels-last
    // (10.1 -> 4.3 ms against its blocked layouts at batch 100, 2 threads, AVX2).
    const bool channels_last = in.c == 1;
    const memory::desc bw_src =
        channels_last ? memory::desc(activation_dims(a.batch, in), dt::f32, tag::nhwc) : src_any;
    const memory::desc bw_dst =
        channels_last ? memory::desc(activation_dims(a.batch, out), dt::f32, tag::nhwc)
                      : diff_dst_any;
    const Ic1ConvGeometry ic1{a.batch, in.h, in.w, layer.filters(), k};
    if (channels_last && conv_ic1_backward_weights_supported(ic1)) {
      ic1_ = ic1;
      // The forward's own plain source: no reorder (nhwc would be the same bytes, one channel).
      bw_src_desc_ = memory::desc(activation_dims(a.batch, in), dt::f32, tag::nchw);
      bw_diff_dst_desc_ = bw_dst;
    } else {
      convolution_backward_weights::primitive_desc bw_pd(
          convolution_backward_weights::desc(algorithm::convolution_direct, bw_src, diff_w_any,
                                             b_md, bw_dst, strides, pl, pr),
          eng, fwd_pd);
      bwd_weights_ = convolution_backward_weights(bw_pd);
      bw_src_desc_ = bw_pd.src_desc();
      bw_diff_dst_desc_ = bw_pd.diff_dst_desc();
      diff_w_ = memory(bw_pd.diff_weights_desc(), eng);
    }

    if (!a.need_diff_src) return;
    convolution_backward_data::primitive_desc bd_pd(
        convolution_backward_data::desc(algorithm::convolution_direct, diff_src_any, w_any,
                                        diff_dst_any, strides, pl, pr),
        eng, fwd_pd);
    bwd_data_ = convolution_backward_data(bd_pd);
    bd_diff_dst_desc_ = bd_pd.diff_dst_desc();
    bd_w_desc_ = bd_pd.weights_desc();
    diff_src_ = memory(bd_pd.diff_src_desc(), eng);
  }

  memory::desc dst_desc() const override { return dst_.get_desc(); }

  // Without a ReLU to undo or a diff_src to compute, backward-weights is diff_dst's only reader.
  // bf16: the layer after writes fp32, converted here.
  memory::desc preferred_diff_dst() const override {
    return relu_ || diff_src_ || bf16_ ? dst_desc() : bw_diff_dst_desc_;
  }

  const memory& forward(const memory& src, const StepContext&) override {
    // The flat buffer holds oihw; the kernel wants its blocked layout (a few hundred KB).
    reorder_now(ctx_, user_w_, w_);
    src_ = src_adapter_.adapt(ctx_, src, src_desc_);
    run_forward(ctx_, fwd_, src_, w_, bias_, dst_);
    return dst_;
  }

  const memory* backward(const memory& diff_dst) override {
    const memory& dy = relu_ ? relu_->run(ctx_, dst_, diff_dst) : diff_dst;
    const memory& dy_w = diff_dst_for_weights_.adapt(ctx_, dy, bw_diff_dst_desc_);
    const memory& x = bw_src_adapter_.adapt(ctx_, src_, bw_src_desc_);
    if (ic1_) {
      ic1_backward_weights(x, dy_w);
    } else {
      run_backward_weights(ctx_, bwd_weights_, x, dy_w, diff_w_, diff_bias_);
      reorder_now(ctx_, diff_w_, user_diff_w_);
    }
    if (!diff_src_) return nullptr;
    const memory& w = weights_for_data_.adapt(ctx_, w_, bd_w_desc_);
    // bf16: one conversion of diff_dst for both passes when they read the same layout.
    const memory& dy_d = bd_diff_dst_desc_ == bw_diff_dst_desc_
                             ? dy_w
                             : diff_dst_for_data_.adapt(ctx_, dy, bd_diff_dst_desc_);
    run_backward_data(ctx_, bwd_data_, dy_d, w, diff_src_);
    return &diff_src_;
  }

 private:
  void ic1_backward_weights(const memory& x, const memory& dy) {
    ctx_.stream.wait();
    const Ic1ConvGeometry& g = *ic1_;
    run_verbose_exec(
        [&] {
          conv_ic1_backward_weights(g, f32_data(x), f32_data(dy), f32_data(user_diff_w_),
                                    f32_data(diff_bias_));
        },
        [&] {
          const std::string k = std::to_string(g.kernel), p = std::to_string(g.pad_top());
          return "convolution,dtrain:ic1,backward_weights,src nchw diff_dst nhwc,,"
                 "alg:convolution_direct,mb" +
                 std::to_string(g.batch) + "_ic1oc" + std::to_string(g.filters) + "_ih" +
                 std::to_string(g.h) + "oh" + std::to_string(g.h) + "kh" + k + "sh1dh0ph" + p +
                 "_iw" + std::to_string(g.w) + "ow" + std::to_string(g.w) + "kw" + k + "sw1dw0pw" +
                 p;
        });
  }

  DnnlContext& ctx_;
  bool bf16_ = false;
  std::optional<Ic1ConvGeometry> ic1_;  // set when dtrain's loops do backward-weights
  convolution_forward fwd_;
  convolution_backward_weights bwd_weights_;
  convolution_backward_data bwd_data_;
  std::unique_ptr<ReluBackward> relu_;
  memory::desc src_desc_, bw_src_desc_, bw_diff_dst_desc_, bd_diff_dst_desc_, bd_w_desc_;
  memory user_w_, w_, bias_, dst_, src_;
  memory user_diff_w_, diff_w_, diff_bias_, diff_src_;
  LayoutAdapter src_adapter_, bw_src_adapter_, diff_dst_for_weights_, diff_dst_for_data_,
      weights_for_data_;
};

}  // namespace

std::unique_ptr<LayerInstance> Conv2D::compile(const CompileArgs& args) const {
  return std::make_unique<Conv2DInstance>(*this, args);
}

}  // namespace dtrain::nn
