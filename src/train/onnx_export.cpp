#include "train/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <fstream>

#include "dtrain/util/error.h"
#include "util/atomic_file.h"

namespace dtrain::train {

namespace {

constexpr int64_t kIrVersion = 8;  // what Debian's python3-onnx 1.12 checker accepts
constexpr int64_t kOpset = 17;

// Builds the graph node by node; each layer reads `tensor` and leaves its output there.
class GraphBuilder {
 public:
  GraphBuilder(onnx::GraphProto& g, const nn::ParameterLayout& layout, const float* params)
      : g_(g), layout_(layout), params_(params) {}

  std::string tensor = "images";

  // A float initializer holding layout tensor `name`, with the dims given (default: its own).
  std::string initializer(const std::string& name, std::vector<int64_t> dims = {}) {
    const auto& t = layout_.find(name);
    auto* init = g_.add_initializer();
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims.empty() ? t.shape : dims) init->add_dims(d);
    init->set_raw_data(
        std::string(reinterpret_cast<const char*>(params_ + t.offset), t.size * sizeof(float)));
    return name;
  }

  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs,
                        const std::string& output) {
    auto* n = g_.add_node();
    n->set_op_type(op);
    n->set_name(output);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(output);
    tensor = output;
    return *n;
  }

  static void ints(onnx::NodeProto& n, const char* name, std::vector<int64_t> values) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
  }
  static void integer(onnx::NodeProto& n, const char* name, int64_t value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }

 private:
  onnx::GraphProto& g_;
  const nn::ParameterLayout& layout_;
  const float* params_;
};

void add_value_info(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

// The graph of the spec's layers, in the spec's order (dtrain runs a conv's ReLU after the
// pool, where it commutes; ONNX gets the order as written).
void build_layers(GraphBuilder& b, const nn::Model& model) {
  int convs = 0, pools = 0, denses = 0;
  bool flat = false;
  for (const auto& c : model.spec().layers()) {
    using K = nn::LayerConfig::Kind;
    if (c.kind == K::kConv) {
      const std::string name = "conv" + std::to_string(++convs);
      const int64_t lo = (c.size - 1) / 2, hi = c.size - 1 - lo;
      auto& n = b.node(
          "Conv", {b.tensor, b.initializer(name + "/kernel"), b.initializer(name + "/bias")}, name);
      GraphBuilder::ints(n, "kernel_shape", {c.size, c.size});
      GraphBuilder::ints(n, "pads", {lo, lo, hi, hi});
      GraphBuilder::ints(n, "strides", {1, 1});
      if (c.relu) b.node("Relu", {b.tensor}, name + "/relu");
    } else if (c.kind == K::kMaxPool) {
      auto& n = b.node("MaxPool", {b.tensor}, "pool" + std::to_string(++pools));
      GraphBuilder::ints(n, "kernel_shape", {c.size, c.size});
      GraphBuilder::ints(n, "strides", {c.size, c.size});
    } else if (c.kind == K::kDense) {
      const std::string name = "dense" + std::to_string(++denses);
      if (!flat) GraphBuilder::integer(b.node("Flatten", {b.tensor}, name + "/flatten"), "axis", 1);
      flat = true;
      const auto& kernel = model.layout().find(name + "/kernel");
      const int64_t in = static_cast<int64_t>(kernel.size) / kernel.shape[0];
      auto& n = b.node("Gemm",
                       {b.tensor, b.initializer(name + "/kernel", {kernel.shape[0], in}),
                        b.initializer(name + "/bias")},
                       name);
      GraphBuilder::integer(n, "transB", 1);
      if (c.relu) b.node("Relu", {b.tensor}, name + "/relu");
    } else if (c.kind != K::kDropout) {
      throw Error("ONNX export: a layer of kind " + std::to_string(static_cast<int>(c.kind)) +
                  " has no ONNX form");
    }
  }
  if (!flat) throw Error("ONNX export: the model ends without a dense layer giving the logits");
}

}  // namespace

bool is_onnx_path(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

void write_onnx_model(const std::string& path, const nn::Model& model, const float* params) {
  onnx::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.set_producer_name("dtrain");
  m.set_doc_string("dtrain model " + model.spec().text() +
                   "; input: pixels / 255, NCHW; outputs: logits and softmax probabilities");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("dtrain");
  const nn::Shape in = model.input_shape();
  add_value_info(g.add_input(), "images", {in.c, in.h, in.w});
  GraphBuilder b(g, model.layout(), params);
  build_layers(b, model);
  g.mutable_node(g.node_size() - 1)->set_output(0, "logits");
  GraphBuilder::integer(b.node("Softmax", {"logits"}, "probabilities"), "axis", 1);
  add_value_info(g.add_output(), "logits", {model.num_classes()});
  add_value_info(g.add_output(), "probabilities", {model.num_classes()});
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw Error("ONNX export of " + model.spec().text() +
                ": ONNX's checker refused it: " + e.what());
  }
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out || !m.SerializeToOstream(&out)) throw Error("cannot write " + tmp);
    out.close();
    if (!out) throw Error("error writing " + tmp);
  });
}

}  // namespace dtrain::train
