#include "dtrain/train/model_file.h"

#include "train/onnx_export.h"

#include <filesystem>

#include "data/hdf5_util.h"
#include "dtrain/util/error.h"
#include "util/atomic_file.h"
#include "util/mpi_call.h"

namespace dtrain::train {

using data::h5_check;
using data::H5Handle;

void write_model_file(const std::string& path, const nn::Model& model, const float* params,
                      int64_t trained_steps, double test_accuracy) {
  write_atomically(path, [&](const std::string& tmp) {
    std::lock_guard lock(mpi_mutex());
    H5Handle file = data::create_file(tmp);
    const hid_t f = file.get();
    const auto in = model.input_shape();
    data::write_string_attribute(f, "dtrain_format", "dtrain-model-v1");
    data::write_string_attribute(f, "model", model.spec().text());
    data::write_string_attribute(
        f, "input_shape",
        std::to_string(in.c) + "," + std::to_string(in.h) + "," + std::to_string(in.w));
    data::write_int_attribute(f, "num_classes", model.num_classes());
    data::write_int_attribute(f, "trained_steps", trained_steps);
    data::write_double_attribute(f, "test_accuracy", test_accuracy);
    data::write_string_attribute(f, "input", "images scaled to [0, 1] (pixel / 255), NCHW");
    data::write_string_attribute(f, "output", "logits; softmax gives class probabilities");
    for (const auto& t : model.layout().tensors()) {
      const std::string ds = "/params/" + t.name;
      data::write_float_dataset(f, ds, t.shape, params + t.offset);
      H5Handle d(H5Dopen2(f, ds.c_str(), H5P_DEFAULT), H5Dclose);
      std::string layout = "bias [out]";
      if (t.name.ends_with("/kernel")) {
        layout = t.name.starts_with("conv") ? "OIHW [out, in, kh, kw]"
                 : t.shape.size() == 4
                     ? "[out, C, H, W]: the image input flattened in C, H, W order"
                     : "[out, in]";
      }
      data::write_string_attribute(d.get(), "layout", layout);
    }
    h5_check(H5Fflush(f, H5F_SCOPE_GLOBAL), tmp + ": flush");
    file.close(tmp);
  });
}

void save_model(const std::string& path, const nn::Model& model, const float* params,
                int64_t trained_steps, double test_accuracy) {
  if (is_onnx_path(path)) {
    write_onnx_model(path, model, params);
  } else {
    write_model_file(path, model, params, trained_steps, test_accuracy);
  }
}

std::vector<float> read_model_params(const std::string& path, const nn::Model& model) {
  MpiLock lock(mpi_mutex());
  if (!std::filesystem::is_regular_file(path)) throw DataError(path + ": no such model file");
  H5Handle file = data::open_file_readonly(path);
  const std::string spec = data::read_string_attribute(file.get(), "model", path);
  if (spec != model.spec().text()) {
    throw DataError(path + ": holds model '" + spec + "', not '" + model.spec().text() + "'");
  }
  std::vector<float> params(model.layout().total(), 0.f);
  for (const auto& t : model.layout().tensors()) {
    data::read_float_dataset(file.get(), "/params/" + t.name, t.shape, params.data() + t.offset,
                             path);
  }
  return params;
}

}  // namespace dtrain::train
