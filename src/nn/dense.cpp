#include "nn/dense.h"

#include "dtrain/util/error.h"
#include "nn/init.h"
#include "nn/relu_backward.h"

namespace dtrain::nn {

using namespace dnnl;
using dt = memory::data_type;
using tag = memory::format_tag;

namespace {
std::vector<int64_t> kernel_shape(Shape in, int units) {
  if (in.flat) return {units, in.c};
  return {units, in.c, in.h, in.w};
}
}  // namespace

Dense::Dense(std::string name, Shape in, int units, bool relu, ParameterLayout& layout)
    : Layer(std::move(name), in, Shape{units, 1, 1, true}), units_(units), relu_(relu) {
  if (units < 1) throw Error(this->name() + ": units must be >= 1");
  kernel_offset_ = declare(layout, "kernel", kernel_shape(in, units));
  bias_offset_ = declare(layout, "bias", {units});
}

std::string Dense::describe() const {
  return "dense " + std::to_string(units_) + (relu_ ? " + ReLU" : "");
}

int64_t Dense::forward_macs() const {
  return in_shape().size() * units_;
}

void Dense::init_params(std::span<float> params, Rng& rng) const {
  const int64_t fan_in = in_shape().size();
  glorot_uniform(params.subspan(kernel_offset_, static_cast<std::size_t>(fan_in * units_)), fan_in,
                 units_, rng);
}

namespace {

class DenseInstance final : public LayerInstance {
 public:
  DenseInstance(const Dense& layer, const CompileArgs& a) : ctx_(*a.ctx) {
    const Shape in = layer.in_shape();
    const auto w_shape = kernel_shape(in, layer.units());
    const memory::dims w_dims(w_shape.begin(), w_shape.end());
    const auto in_dims = activation_dims(a.batch, in);
    const int nd = static_cast<int>(in_dims.size());
    // bf16: the primitives read bf16 inputs, weights and incoming gradients and write fp32;
    // the fp32 weights in the flat buffer are converted before each forward, into the layout
    // oneDNN picks (`any`): the 3136x1024 layer stays on its gemm with plain layouts, the last
    // one moved from that gemm to brgemm (0.8 against 2.0 ms for 7 batches of 1000, Zen 4).
    const bool bf16 = ctx_.precision == Precision::kBf16;
    const dt low = bf16 ? dt::bf16 : dt::f32;
    const auto low_tag = bf16 ? tag::any : plain_tag(nd);
    const memory::desc src_any(in_dims, low, low_tag), w_low(w_dims, low, low_tag);
    const memory::desc w_md(w_dims, dt::f32, plain_tag(nd));
    const memory::desc b_md({layer.units()}, dt::f32, tag::a);
    const memory::desc dst_md({a.batch, layer.units()}, dt::f32, tag::ab);
    diff_dst_desc_ = memory::desc({a.batch, layer.units()}, low, tag::ab);
    auto& eng = ctx_.engine;

    const primitive_attr attr = relu_attr(layer.relu());
    const auto prop = a.training ? prop_kind::forward_training : prop_kind::forward_inference;
    inner_product_forward::primitive_desc fwd_pd(
        inner_product_forward::desc(prop, src_any, w_low, b_md, dst_md), attr, eng);
    fwd_ = inner_product_forward(fwd_pd);
    src_desc_ = fwd_pd.src_desc();
    user_w_ = memory(w_md, eng, a.params + layer.kernel_offset());
    w_ = bf16 ? memory(fwd_pd.weights_desc(), eng) : user_w_;
    bias_ = memory(b_md, eng, a.params + layer.bias_offset());
    dst_ = memory(dst_md, eng);
    if (!a.training) return;

    if (layer.relu()) relu_ = std::make_unique<ReluBackward>(ctx_, dst_md);
    inner_product_backward_weights::primitive_desc bw_pd(
        inner_product_backward_weights::desc(src_desc_, w_md, b_md, diff_dst_desc_), eng, fwd_pd);
    bwd_weights_ = inner_product_backward_weights(bw_pd);
    diff_w_ = memory(w_md, eng, a.grads + layer.kernel_offset());
    diff_bias_ = memory(b_md, eng, a.grads + layer.bias_offset());
    if (!a.need_diff_src) return;
    const memory::desc diff_src_md(in_dims, dt::f32, plain_tag(nd));
    inner_product_backward_data::primitive_desc bd_pd(
        inner_product_backward_data::desc(diff_src_md, w_low, diff_dst_desc_), eng, fwd_pd);
    bwd_data_ = inner_product_backward_data(bd_pd);
    bd_w_desc_ = bd_pd.weights_desc();
    diff_src_ = memory(diff_src_md, eng);
  }

  memory::desc dst_desc() const override { return dst_.get_desc(); }

  const memory& forward(const memory& src, const StepContext&) override {
    if (w_ != user_w_) reorder_now(ctx_, user_w_, w_);  // bf16: this step's weights
    src_ = adapter_.adapt(ctx_, src, src_desc_);
    run_forward(ctx_, fwd_, src_, w_, bias_, dst_);
    return dst_;
  }

  const memory* backward(const memory& diff_dst) override {
    const memory& dy = diff_adapter_.adapt(
        ctx_, relu_ ? relu_->run(ctx_, dst_, diff_dst) : diff_dst, diff_dst_desc_);
    run_backward_weights(ctx_, bwd_weights_, src_, dy, diff_w_, diff_bias_);
    if (!diff_src_) return nullptr;
    run_backward_data(ctx_, bwd_data_, dy, weights_for_data_.adapt(ctx_, w_, bd_w_desc_),
                      diff_src_);
    return &diff_src_;
  }

 private:
  DnnlContext& ctx_;
  memory::desc src_desc_, diff_dst_desc_, bd_w_desc_;
  inner_product_forward fwd_;
  inner_product_backward_weights bwd_weights_;
  inner_product_backward_data bwd_data_;
  std::unique_ptr<ReluBackward> relu_;
  memory user_w_, w_, bias_, dst_, src_, diff_w_, diff_bias_, diff_src_;
  LayoutAdapter adapter_, diff_adapter_, weights_for_data_;
};

}  // namespace

std::unique_ptr<LayerInstance> Dense::compile(const CompileArgs& args) const {
  return std::make_unique<DenseInstance>(*this, args);
}

}  // namespace dtrain::nn
