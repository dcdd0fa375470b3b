#include "nn/network.h"

#include "dtrain/util/error.h"
#include "util/timeline.h"

namespace dtrain::nn {

using namespace dnnl;
using dt = memory::data_type;

Network::Network(const Model& model, DnnlContext& ctx, int64_t batch, bool training, float* params,
                 float* grads)
    : model_(model), ctx_(ctx), batch_(batch), training_(training) {
  if (batch < 1) throw Error("batch size must be >= 1");
  if (training && grads == nullptr) throw Error("a training network needs a gradient buffer");
  const auto in_dims = activation_dims(batch, model.input_shape());
  memory::desc desc(in_dims, dt::f32, plain_tag(static_cast<int>(in_dims.size())));
  input_ = memory(desc, ctx.engine, DNNL_MEMORY_NONE);
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    CompileArgs args{&ctx, batch, training, training && i > 0, desc, params, grads};
    layers_.push_back(model.layers()[i]->compile(args));
    desc = layers_.back()->dst_desc();
  }
  if (training) {
    for (std::size_t i = 1; i < layers_.size(); ++i) {
      layers_[i]->prefer_diff_src(layers_[i - 1]->preferred_diff_dst());
    }
  }
  outputs_.resize(layers_.size());
  diff_logits_ = memory(memory::desc({batch, model.num_classes()}, dt::f32, memory::format_tag::ab),
                        ctx.engine, DNNL_MEMORY_NONE);
}

const float* Network::forward(const float* images, const StepContext& step) {
  input_.set_data_handle(const_cast<float*>(images));
  const memory* x = &input_;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    TimelineSpan span(model_.layers()[i]->name().c_str(), "layer", step.step, 0,
                      timeline::layers());
    outputs_[i] = layers_[i]->forward(*x, step);
    x = &outputs_[i];
    if (timeline::layers()) ctx_.stream.wait();  // the span covers the layer's own work
  }
  ctx_.stream.wait();
  return static_cast<const float*>(outputs_.back().get_data_handle());
}

void Network::backward(const float* diff_logits, const GradientReadyFn& ready) {
  if (!training_) throw Error("backward() on an inference network");
  diff_logits_.set_data_handle(const_cast<float*>(diff_logits));
  const memory* diff = &diff_logits_;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    TimelineSpan span(model_.layers()[i]->name().c_str(), "layer", -1, 0, timeline::layers());
    diff = layers_[i]->backward(*diff);
    if (timeline::layers()) ctx_.stream.wait();
    const ParamRange range = model_.layers()[i]->param_range();
    if (!range.empty() && ready) {
      ctx_.stream.wait();
      ready(range);
    }
    if (diff == nullptr) break;
  }
  ctx_.stream.wait();
}

const float* Network::activation(std::size_t index) {
  const memory& out = outputs_.at(index);
  const auto dims = out.get_desc().dims();
  const memory::desc plain(dims, dt::f32, plain_tag(static_cast<int>(dims.size())));
  const memory& p = plain_adapter_.adapt(ctx_, out, plain);
  ctx_.stream.wait();
  return static_cast<const float*>(p.get_data_handle());
}

}  // namespace dtrain::nn
