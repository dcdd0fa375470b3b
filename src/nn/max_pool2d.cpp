#include "nn/max_pool2d.h"

#include "dtrain/util/error.h"
#include "nn/relu_backward.h"

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

class MaxPool2DInstance final : public LayerInstance {
 public:
  MaxPool2DInstance(const MaxPool2D& layer, const CompileArgs& a) : ctx_(*a.ctx) {
    const int64_t k = layer.window();
    const memory::dims kernel{k, k}, strides{k, k}, pad{0, 0};
    const memory::desc dst_any(activation_dims(a.batch, layer.out_shape()), dt::f32, tag::any);
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

}  // namespace

std::unique_ptr<LayerInstance> MaxPool2D::compile(const CompileArgs& args) const {
  return std::make_unique<MaxPool2DInstance>(*this, args);
}

}  // namespace dtrain::nn
