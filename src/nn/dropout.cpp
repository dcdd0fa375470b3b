#include "nn/dropout.h"

#include "dtrain/util/error.h"
#include "util/rng.h"

namespace dtrain::nn {

using namespace dnnl;
using dt = memory::data_type;

Dropout::Dropout(std::string name, Shape in, float rate)
    : Layer(std::move(name), in, in), rate_(rate) {
  if (!(rate >= 0.f && rate < 1.f)) throw Error(this->name() + ": rate must be in [0, 1)");
}

std::string Dropout::describe() const {
  return "dropout " + std::to_string(rate_).substr(0, 4);
}

void dropout_mask(std::uint64_t seed, std::int64_t step, std::int64_t example_id, float rate,
                  std::span<float> out) {
  Rng rng(key(seed, static_cast<std::uint64_t>(step), static_cast<std::uint64_t>(example_id)));
  const float keep_scale = 1.0f / (1.0f - rate);
  for (float& m : out) m = rng.uniform() >= rate ? keep_scale : 0.0f;
}

namespace {

class DropoutInstance final : public LayerInstance {
 public:
  DropoutInstance(const Dropout& layer, const CompileArgs& a)
      : ctx_(*a.ctx), rate_(layer.rate()), training_(a.training), batch_(a.batch) {
    const auto dims = activation_dims(a.batch, layer.in_shape());
    desc_ = memory::desc(dims, dt::f32, plain_tag(static_cast<int>(dims.size())));
    width_ = layer.in_shape().size();
    if (!training_) return;
    dst_ = memory(desc_, ctx_.engine);
    mask_ = memory(desc_, ctx_.engine);
    if (a.need_diff_src) diff_src_ = memory(desc_, ctx_.engine);
  }

  memory::desc dst_desc() const override { return desc_; }

  const memory& forward(const memory& src, const StepContext& step) override {
    const memory& x = adapter_.adapt(ctx_, src, desc_);
    if (!training_ || rate_ == 0.f) {
      passthrough_ = x;
      return passthrough_;
    }
    auto* in = static_cast<const float*>(x.get_data_handle());
    auto* out = static_cast<float*>(dst_.get_data_handle());
    auto* mask = static_cast<float*>(mask_.get_data_handle());
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < batch_; ++r) {
      const int64_t id = step.example_ids ? step.example_ids[r] : r;
      float* m = mask + r * width_;
      dropout_mask(step.seed, step.step, id, rate_, {m, static_cast<std::size_t>(width_)});
      const float* xr = in + r * width_;
      float* yr = out + r * width_;
      for (int64_t j = 0; j < width_; ++j) yr[j] = xr[j] * m[j];
    }
    return dst_;
  }

  const memory* backward(const memory& diff_dst) override {
    if (!diff_src_) return nullptr;
    const memory& dy = diff_adapter_.adapt(ctx_, diff_dst, desc_);
    if (rate_ == 0.f) return &dy;
    auto* g = static_cast<const float*>(dy.get_data_handle());
    auto* m = static_cast<const float*>(mask_.get_data_handle());
    auto* out = static_cast<float*>(diff_src_.get_data_handle());
    const int64_t n = batch_ * width_;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = g[i] * m[i];
    return &diff_src_;
  }

 private:
  DnnlContext& ctx_;
  float rate_;
  bool training_;
  int64_t batch_, width_ = 0;
  memory::desc desc_;
  memory dst_, mask_, diff_src_, passthrough_;
  LayoutAdapter adapter_, diff_adapter_;
};

}  // namespace

std::unique_ptr<LayerInstance> Dropout::compile(const CompileArgs& args) const {
  return std::make_unique<DropoutInstance>(*this, args);
}

}  // namespace dtrain::nn
