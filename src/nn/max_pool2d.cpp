#include "nn/max_pool2d.h"

#include <vector>

#include "dtrain/util/error.h"
#include "nn/max_pool_kernel.h"
#include "nn/relu_backward.h"
#include "nn/verbose_exec.h"

namespace dtrain::nn {

using namespace dnnl;
using dt = memory::data_type;
using tag = memory::format_tag;

namespace {
Shape pooled(const std::string& name, Shape in, int window) {
  if (in.flat) throw Error(name + ": pooling needs an image-shaped input");
  if (window < 1 || in.h < window || in.w < window) {
    throw Error(name + ": pooling window " + std::to_string(window) + " does not fit a " +
                std::to_string(in.h) + "x" + std::to_string(in.w) + " input");
  }
  return Shape{in.c, in.h / window, in.w / window};
}
}  // namespace

MaxPool2D::MaxPool2D(std::string name, Shape in, int window, bool relu)
    : Layer(name, in, pooled(name, in, window)), window_(window), relu_(relu) {}

std::string MaxPool2D::describe() const {
  return "maxpool " + std::to_string(window_) + "x" + std::to_string(window_) + "/" +
         std::to_string(window_) + (relu_ ? " + ReLU (the conv's, moved past the pool)" : "");
}

namespace {

// oneDNN's pooling: any window, any layout.
class DnnlMaxPool final : public LayerInstance {
 public:
  DnnlMaxPool(const MaxPool2D& layer, const CompileArgs& a) : ctx_(*a.ctx) {
    const int64_t k = layer.window();
    const memory::dims kernel{k, k}, strides{k, k}, pad{0, 0};
    // The input's type: bf16 activations (inference) stay bf16.
    const memory::desc dst_any(activation_dims(a.batch, layer.out_shape()), a.src_desc.data_type(),
                               tag::any);
    const auto prop = a.training ? prop_kind::forward_training : prop_kind::forward_inference;
    src_desc_ = a.src_desc;
    const primitive_attr attr = relu_attr(layer.relu());
    pooling_forward::primitive_desc fwd_pd(
        pooling_forward::desc(prop, algorithm::pooling_max, src_desc_, dst_any, strides, kernel,
                              pad, pad),
        attr, ctx_.engine);
    fwd_ = pooling_forward(fwd_pd);
    dst_ = memory(fwd_pd.dst_desc(), ctx_.engine);
    if (!a.training) return;
    workspace_ = memory(fwd_pd.workspace_desc(), ctx_.engine);
    if (!a.need_diff_src) return;
    if (layer.relu()) relu_ = std::make_unique<ReluBackward>(ctx_, fwd_pd.dst_desc());
    pooling_backward::primitive_desc bwd_pd(
        pooling_backward::desc(algorithm::pooling_max, src_desc_, fwd_pd.dst_desc(), strides,
                               kernel, pad, pad),
        ctx_.engine, fwd_pd);
    bwd_ = pooling_backward(bwd_pd);
    diff_dst_desc_ = bwd_pd.diff_dst_desc();
    diff_src_ = memory(bwd_pd.diff_src_desc(), ctx_.engine);
  }

  memory::desc dst_desc() const override { return dst_.get_desc(); }

  const memory& forward(const memory& src, const StepContext&) override {
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}};
    if (workspace_) args.emplace(DNNL_ARG_WORKSPACE, workspace_);
    fwd_.execute(ctx_.stream, args);
    return dst_;
  }

  const memory* backward(const memory& diff_dst) override {
    if (!diff_src_) return nullptr;
    const memory& dy_post = relu_ ? relu_->run(ctx_, dst_, diff_dst) : diff_dst;
    const memory& dy = adapter_.adapt(ctx_, dy_post, diff_dst_desc_);
    bwd_.execute(ctx_.stream, {{DNNL_ARG_DIFF_DST, dy},
                               {DNNL_ARG_WORKSPACE, workspace_},
                               {DNNL_ARG_DIFF_SRC, diff_src_}});
    return &diff_src_;
  }

 private:
  DnnlContext& ctx_;
  memory::desc src_desc_, diff_dst_desc_;
  pooling_forward fwd_;
  pooling_backward bwd_;
  memory dst_, workspace_, diff_src_;
  std::unique_ptr<ReluBackward> relu_;
  LayoutAdapter adapter_;
};

// The model's 2x2 pools on the layouts its convolutions produce (nn/max_pool_kernel.h says
// why): output in the input's layout, the argmax kept for backward, the ReLU folded into both
// passes. With ONEDNN_VERBOSE set, each pass prints a line in oneDNN's format, so the
// per-primitive tables of scripts/bench_compute.sh count it.
class Pool2x2 final : public LayerInstance {
 public:
  Pool2x2(const MaxPool2D& layer, const CompileArgs& a, const PoolGeometry& g)
      : ctx_(*a.ctx),
        g_(g),
        diff_src_layout_(g.layout),
        relu_(layer.relu()),
        training_(a.training) {
    const memory::dims src_dims = a.src_desc.dims();
    memory::dims out{src_dims[0], src_dims[1], g.out_h(), g.out_w()};
    dst_ = memory(memory::desc(out, g.bf16 ? dt::bf16 : dt::f32, g.layout), ctx_.engine);
    problem_ = "mb" + std::to_string(src_dims[0]) + "ic" + std::to_string(src_dims[1]) + "_ih" +
               std::to_string(g.h) + "oh" + std::to_string(g.out_h()) + "kh2sh2dh0ph0_iw" +
               std::to_string(g.w) + "ow" + std::to_string(g.out_w()) + "kw2sw2dw0pw0";
    if (!a.training) return;
    argmax_.resize(static_cast<std::size_t>(g.out_elements()));
    if (a.need_diff_src) diff_src_ = memory(a.src_desc, ctx_.engine);
  }

  memory::desc dst_desc() const override { return dst_.get_desc(); }

  void prefer_diff_src(const memory::desc& want) override {
    if (!diff_src_ || !pool_writes_diff_src_as(g_, tag::nhwc)) return;
    if (want != memory::desc(diff_src_.get_desc().dims(), dt::f32, tag::nhwc)) return;
    diff_src_ = memory(want, ctx_.engine);
    diff_src_layout_ = tag::nhwc;
  }

  const memory& forward(const memory& src, const StepContext&) override {
    ctx_.stream.wait();
    run_verbose_exec(
        [&] {
          if (g_.bf16) {
            max_pool2x2_forward_bf16(g_, static_cast<const uint16_t*>(src.get_data_handle()),
                                     static_cast<uint16_t*>(dst_.get_data_handle()), relu_);
          } else {
            max_pool2x2_forward(g_, f32_data(src), f32_data(dst_),
                                training_ ? argmax_.data() : nullptr, relu_);
          }
        },
        [&] { return fields(training_ ? "forward_training" : "forward_inference"); });
    return dst_;
  }

  const memory* backward(const memory& diff_dst) override {
    if (!diff_src_) return nullptr;
    const memory& dy = adapter_.adapt(ctx_, diff_dst, dst_.get_desc());
    ctx_.stream.wait();
    run_verbose_exec(
        [&] {
          max_pool2x2_backward(g_, f32_data(dy), argmax_.data(), f32_data(diff_src_),
                               diff_src_layout_);
        },
        [&] { return fields("backward_data", diff_src_layout_ == tag::nhwc); });
    return &diff_src_;
  }

 private:
  std::string fields(const char* prop, bool diff_nhwc = false) const {
    const std::string block =
        "block" + std::to_string(g_.block) + (g_.bf16 ? " bf16" : "") + (diff_nhwc ? ">nhwc" : "");
    return std::string("pooling,dtrain:2x2,") + prop + "," + block + "," +
           (relu_ ? "attr-post-ops:eltwise_relu" : "") + ",alg:pooling_max," + problem_;
  }

  DnnlContext& ctx_;
  PoolGeometry g_;
  tag diff_src_layout_;  // the input's, or nhwc when the layer before reads that best
  bool relu_, training_;
  memory dst_, diff_src_;
  std::vector<uint8_t> argmax_;
  std::string problem_;
  LayoutAdapter adapter_;
};

}  // namespace

std::unique_ptr<LayerInstance> MaxPool2D::compile(const CompileArgs& args) const {
  // bf16 activations only reach a pool in inference; training keeps them f32 (nn/conv2d.cpp).
  if (const auto g = pool_geometry(args.src_desc);
      g && window_ == 2 && !(g->bf16 && args.training)) {
    return std::make_unique<Pool2x2>(*this, args, *g);
  }
  return std::make_unique<DnnlMaxPool>(*this, args);
}

}  // namespace dtrain::nn
