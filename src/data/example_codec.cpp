#include "data/example_codec.h"

#include <sstream>

#include "dtrain/util/error.h"
#include "example.pb.h"

namespace dtrain::data {

FeatureNames parse_feature_names(const std::string& spec, FeatureNames defaults) {
  FeatureNames names = std::move(defaults);
  std::istringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq),
                      value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (value.empty() || (key != "image" && key != "label")) {
      throw OptionError("--features: '" + item + "' is not of the form image=NAME or label=NAME");
    }
    (key == "image" ? names.image : names.label) = value;
  }
  return names;
}

ExampleLayout parse_example_layout(const std::string& s) {
  if (s == "int64" || s == "tfos") return ExampleLayout::kInt64;
  if (s == "bytes" || s == "tpu") return ExampleLayout::kBytes;
  throw OptionError("--tfrecord-layout: '" + s +
                    "' (expected int64 (TensorFlowOnSpark) or bytes (TPU))");
}

FeatureNames layout_feature_names(ExampleLayout layout) {
  return layout == ExampleLayout::kInt64 ? FeatureNames{"image", "label"}
                                         : FeatureNames{"image_raw", "label"};
}

std::string encode_example(std::span<const std::uint8_t> pixels, int label, ExampleLayout layout,
                           ImageShape shape) {
  tensorflow::Example ex;
  auto& features = *ex.mutable_features()->mutable_feature();
  const FeatureNames names = layout_feature_names(layout);
  if (layout == ExampleLayout::kInt64) {
    auto* list = features[names.image].mutable_int64_list();
    list->mutable_value()->Reserve(static_cast<int>(pixels.size()));
    for (std::uint8_t p : pixels) list->add_value(p);
  } else {
    features[names.image].mutable_bytes_list()->add_value(
        std::string(reinterpret_cast<const char*>(pixels.data()), pixels.size()));
    features["height"].mutable_int64_list()->add_value(shape.h);
    features["width"].mutable_int64_list()->add_value(shape.w);
    features["depth"].mutable_int64_list()->add_value(shape.c);
  }
  features[names.label].mutable_int64_list()->add_value(label);
  std::string out;
  ex.SerializeToString(&out);
  return out;
}

namespace {

std::string present(const tensorflow::Example& ex) {
  std::string s;
  for (const auto& [name, f] : ex.features().feature()) {
    (void)f;
    s += (s.empty() ? "" : ", ") + name;
  }
  return s.empty() ? "none" : s;
}

const tensorflow::Feature& find(const tensorflow::Example& ex, const std::string& name,
                                const char* role) {
  const auto& map = ex.features().feature();
  auto it = map.find(name);
  if (it == map.end()) {
    throw DataError(std::string(role) + " feature '" + name + "' not found (features present: " +
                    present(ex) + "; map names with --features " + role + "=NAME)");
  }
  return it->second;
}

// The single int64 value of an optional feature, or -1 when absent.
int64_t int64_feature(const tensorflow::Example& ex, const char* name) {
  const auto& map = ex.features().feature();
  auto it = map.find(name);
  if (it == map.end()) return -1;
  if (it->second.kind_case() != tensorflow::Feature::kInt64List ||
      it->second.int64_list().value_size() != 1) {
    throw DataError(std::string("feature '") + name + "' must be a single int64 value");
  }
  return it->second.int64_list().value(0);
}

int64_t image_values(const tensorflow::Feature& img) {
  switch (img.kind_case()) {
    case tensorflow::Feature::kInt64List:
      return img.int64_list().value_size();
    case tensorflow::Feature::kFloatList:
      return img.float_list().value_size();
    case tensorflow::Feature::kBytesList:
      return img.bytes_list().value_size() == 1
                 ? static_cast<int64_t>(img.bytes_list().value(0).size())
                 : -1;
    default:
      return -1;
  }
}

}  // namespace

ImageShape example_image_shape(std::span<const std::uint8_t> record, const FeatureNames& names) {
  tensorflow::Example ex;
  if (!ex.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    throw DataError("not a valid tf.train.Example protobuf");
  }
  const int64_t values = image_values(find(ex, names.image, "image"));
  if (values <= 0) throw DataError("image feature '" + names.image + "' holds no image");
  const int64_t h = int64_feature(ex, "height"), w = int64_feature(ex, "width");
  if (h < 0 && w < 0) return square_image(values, "image feature '" + names.image + "'");
  int64_t c = int64_feature(ex, "depth");
  if (c < 0) c = int64_feature(ex, "channels");
  const ImageShape shape{c < 0 ? 1 : c, h, w};
  if (h <= 0 || w <= 0 || shape.c <= 0 || shape.size() != values) {
    throw DataError("features height " + std::to_string(h) + ", width " + std::to_string(w) +
                    " and depth " + std::to_string(c) + " do not fit the " +
                    std::to_string(values) + " values of image feature '" + names.image + "'");
  }
  return shape;
}

namespace {

// The image feature into `pixels` floats in [0, 1].
void decode_image(const tensorflow::Feature& img, const std::string& name, std::int64_t pixels,
                  float* image) {
  const std::string expected = std::to_string(pixels) + " values";
  constexpr float kScale = 1.0f / 255.0f;
  switch (img.kind_case()) {
    case tensorflow::Feature::kInt64List: {
      const auto& v = img.int64_list().value();
      if (v.size() != pixels) {
        throw DataError("image feature '" + name + "' has " + std::to_string(v.size()) +
                        " int64 values; expected " + expected);
      }
      for (std::int64_t i = 0; i < pixels; ++i) {
        const std::int64_t x = v[static_cast<int>(i)];
        if (x < 0 || x > 255) {
          throw DataError("image feature '" + name + "' value " + std::to_string(x) +
                          " outside 0..255");
        }
        image[i] = static_cast<float>(x) * kScale;
      }
      return;
    }
    case tensorflow::Feature::kFloatList: {
      const auto& v = img.float_list().value();
      if (v.size() != pixels) {
        throw DataError("image feature '" + name + "' has " + std::to_string(v.size()) +
                        " float values; expected " + expected);
      }
      for (std::int64_t i = 0; i < pixels; ++i) {
        const float x = v[static_cast<int>(i)];
        if (!(x >= 0.f && x <= 1.f))
          throw DataError("image feature '" + name + "' float value outside [0, 1]");
        image[i] = x;
      }
      return;
    }
    case tensorflow::Feature::kBytesList: {
      const auto& v = img.bytes_list().value();
      if (v.size() != 1 || static_cast<std::int64_t>(v[0].size()) != pixels) {
        throw DataError(
            "image feature '" + name + "' must be one bytes value of " + std::to_string(pixels) +
            " bytes (got " + std::to_string(v.size()) + " value(s)" +
            (v.size() == 1 ? " of " + std::to_string(v[0].size()) + " bytes" : "") + ")");
      }
      const auto* b = reinterpret_cast<const std::uint8_t*>(v[0].data());
      for (std::int64_t i = 0; i < pixels; ++i) image[i] = static_cast<float>(b[i]) * kScale;
      return;
    }
    default:
      throw DataError("image feature '" + name + "' is empty");
  }
}

// The label feature: one class index, or a one-hot vector of num_classes values.
std::int32_t decode_label(const tensorflow::Feature& lab, const std::string& name,
                          int num_classes) {
  if (lab.kind_case() != tensorflow::Feature::kInt64List)
    throw DataError("label feature '" + name + "' must be an int64_list");
  const auto& v = lab.int64_list().value();
  std::int64_t y = -1;
  if (v.size() == 1) {
    y = v[0];
  } else if (v.size() == num_classes) {  // one-hot, as older TensorFlowOnSpark examples wrote
    int ones = 0;
    for (int c = 0; c < num_classes; ++c) {
      if (v[c] == 1) {
        y = c;
        ++ones;
      } else if (v[c] != 0) {
        ones = -1;
        break;
      }
    }
    if (ones != 1) throw DataError("label feature '" + name + "' is not a valid one-hot vector");
  } else {
    throw DataError("label feature '" + name + "' has " + std::to_string(v.size()) +
                    " values; expected 1 (class index) or " + std::to_string(num_classes) +
                    " (one-hot)");
  }
  if (y < 0 || y >= num_classes) {
    throw DataError("label " + std::to_string(y) + " outside [0, " + std::to_string(num_classes) +
                    ")");
  }
  return static_cast<std::int32_t>(y);
}

}  // namespace

void decode_example(std::span<const std::uint8_t> record, const FeatureNames& names,
                    std::int64_t pixels, int num_classes, float* image, std::int32_t* label,
                    bool label_optional) {
  tensorflow::Example ex;
  if (!ex.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    throw DataError("not a valid tf.train.Example protobuf");
  }
  decode_image(find(ex, names.image, "image"), names.image, pixels, image);
  if (label_optional && ex.features().feature().count(names.label) == 0) {
    *label = -1;
    return;
  }
  *label = decode_label(find(ex, names.label, "label"), names.label, num_classes);
}

}  // namespace dtrain::data
