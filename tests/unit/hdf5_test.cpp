// HDF5 shards through parallel HDF5: our own shards round-trip, the accepted variants
// (float32 images, int32/int64 labels, [n, h, w, 1]) read correctly, and every other type or
// shape is refused with the file, the dataset, and what was found and expected.
#include <gtest/gtest.h>

#include "data/hdf5_source.h"
#include "data/shard_writer.h"
#include "dtrain/data/dataset.h"
#include "dtrain/util/error.h"
#include "test_files.h"

namespace dtrain::data {
namespace {

using dtrain::testing::error_of;
using dtrain::testing::TempDir;

// Writes one dataset with the HDF5 C API: the layouts our writer never produces.
template <typename T>
void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t mem_type,
                   std::vector<hsize_t> dims, const std::vector<T>& values) {
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Handle d(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             H5Dclose);
  ASSERT_GE(d.get(), 0);
  ASSERT_GE(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
}

H5Handle create(const std::string& path) {
  return H5Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
}

std::vector<std::uint8_t> pixels(int n, int px) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(n * px));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(i * 13 % 256);
  return v;
}

TEST(Hdf5, OwnShardsRoundTripWithScatteredReads) {
  TempDir dir;
  const ImageShape shape{1, 4, 3};
  for (bool compress : {false, true}) {
    const auto px = pixels(30, 12);
    std::vector<int32_t> labels(30);
    for (int i = 0; i < 30; ++i) labels[static_cast<std::size_t>(i)] = i % 10;
    ShardFormat f{Format::kHdf5, ExampleLayout::kInt64, compress};
    write_shard(dir.file("a.h5"), f, shape, {px.data(), 20 * 12}, {labels.data(), 20});
    write_shard(dir.file("b.h5"), f, shape, {px.data() + 240, 10 * 12}, {labels.data() + 20, 10});
    DatasetOptions d;
    d.paths = dir.path().string();
    auto src = open_dataset(d);
    ASSERT_EQ(src->size(), 30);
    EXPECT_EQ(src->unit_sizes(), (std::vector<int64_t>{20, 10}));
    EXPECT_EQ(src->image_shape(), shape);
    const std::vector<int64_t> ids{29, 3, 4, 5, 19, 20, 0};  // runs, file boundary, unsorted
    std::vector<float> img(ids.size() * 12);
    std::vector<int32_t> lab(ids.size());
    src->read(ids, img.data(), lab.data());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(lab[i], ids[i] % 10);
      for (int k = 0; k < 12; ++k) {
        ASSERT_FLOAT_EQ(img[i * 12 + static_cast<std::size_t>(k)],
                        px[static_cast<std::size_t>(ids[i] * 12 + k)] / 255.f);
      }
    }
  }
}

TEST(Hdf5, AcceptsFloatImagesAndWideLabels) {
  TempDir dir;
  {
    auto file = create(dir.file("f.h5"));
    std::vector<float> img(2 * 4, 0.5f);
    img[7] = 1.f;
    write_dataset(file.get(), "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 2, 2, 1}, img);
    write_dataset(file.get(), "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, {2, 1},
                  std::vector<int64_t>{9, 2});
  }
  Hdf5Source src({dir.file("f.h5")}, {});
  float out[8];
  int32_t lab[2];
  const int64_t ids[2] = {1, 0};
  src.read(ids, out, lab);
  EXPECT_EQ(lab[0], 2);
  EXPECT_EQ(lab[1], 9);
  EXPECT_FLOAT_EQ(out[3], 1.f);
  EXPECT_FLOAT_EQ(out[4], 0.5f);
}

TEST(Hdf5, RejectsWrongTypesAndShapesNamingFileAndDataset) {
  TempDir dir;
  struct Case {
    const char* name;
    std::function<void(hid_t)> write;
    const char* expect;
  };
  const std::vector<Case> cases{
      {"int16_images",
       [](hid_t f) {
         write_dataset(f, "images", H5T_STD_I16LE, H5T_NATIVE_INT16, {2, 2, 2},
                       std::vector<int16_t>(8));
         write_dataset(f, "labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, {2},
                       std::vector<std::uint8_t>(2));
       },
       "/images has type int16; expected uint8 (0..255) or float32"},
      {"flat_images",
       [](hid_t f) {
         write_dataset(f, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, {2, 784},
                       std::vector<std::uint8_t>(1568));
         write_dataset(f, "labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, {2},
                       std::vector<std::uint8_t>(2));
       },
       "/images has shape [2,784]; expected [n, height, width]"},
      {"float_labels",
       [](hid_t f) {
         write_dataset(f, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, {2, 2, 2},
                       std::vector<std::uint8_t>(8));
         write_dataset(f, "labels", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2}, std::vector<float>(2));
       },
       "/labels has type float32; expected uint8, int32 or int64"},
      {"short_labels",
       [](hid_t f) {
         write_dataset(f, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, {3, 2, 2},
                       std::vector<std::uint8_t>(12));
         write_dataset(f, "labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, {2},
                       std::vector<std::uint8_t>(2));
       },
       "/labels has shape [2]; expected [3]"},
      {"no_labels",
       [](hid_t f) {
         write_dataset(f, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, {3, 2, 2},
                       std::vector<std::uint8_t>(12));
       },
       "no label dataset '/labels'"},
  };
  for (const auto& c : cases) {
    const std::string path = dir.file(std::string(c.name) + ".h5");
    {
      auto file = create(path);
      c.write(file.get());
    }
    const auto msg = error_of([&] { Hdf5Source({path}, {}); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": " << msg;
  }
  // A label outside the classes is caught when read.
  {
    auto file = create(dir.file("label12.h5"));
    write_dataset(file.get(), "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, {1, 2, 2},
                  std::vector<std::uint8_t>(4));
    write_dataset(file.get(), "labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, {1},
                  std::vector<std::uint8_t>{12});
  }
  Hdf5Source src({dir.file("label12.h5")}, {});
  float img[4];
  int32_t lab;
  const int64_t id = 0;
  EXPECT_NE(error_of([&] { src.read({&id, 1}, img, &lab); }).find("label 12"), std::string::npos);
}

TEST(Hdf5, MissingEmptyAndForeignFiles) {
  TempDir dir;
  EXPECT_NE(error_of([&] { Hdf5Source({dir.file("nope.h5")}, {}); }).find("no such file"),
            std::string::npos);
  dtrain::testing::write_bytes(dir.file("empty.h5"), {});
  EXPECT_NE(error_of([&] { Hdf5Source({dir.file("empty.h5")}, {}); }).find("empty file"),
            std::string::npos);
  dtrain::testing::write_bytes(dir.file("text.h5"), std::vector<std::uint8_t>(4096, 'x'));
  EXPECT_NE(error_of([&] { Hdf5Source({dir.file("text.h5")}, {}); }).find("cannot open as HDF5"),
            std::string::npos);
}

TEST(Dataset, PathsFormatsAndDetection) {
  TempDir dir;
  EXPECT_NE(error_of([&] { expand_paths(dir.file("*.h5")); }).find("no files match"),
            std::string::npos);
  EXPECT_NE(error_of([&] { expand_paths(dir.file("absent")); }).find("no such file"),
            std::string::npos);
  dtrain::testing::write_bytes(dir.file("x.bin"), std::vector<std::uint8_t>(64, 7));
  EXPECT_NE(error_of([&] { detect_format({dir.file("x.bin")}); }).find("give --format"),
            std::string::npos);
  const auto px = pixels(2, 784);
  std::vector<int32_t> labels{1, 2};
  write_shard(dir.file("s.h5"), {Format::kHdf5}, {1, 28, 28}, px, labels);
  write_shard(dir.file("s.tfrecord"), {Format::kTfrecord}, {1, 28, 28}, px, labels);
  write_shard(dir.file("s.csv"), {Format::kCsv}, {1, 28, 28}, px, labels);
  EXPECT_EQ(detect_format({dir.file("s.h5")}), Format::kHdf5);
  EXPECT_EQ(detect_format({dir.file("s.tfrecord")}), Format::kTfrecord);
  EXPECT_EQ(detect_format({dir.file("s.csv")}), Format::kCsv);
  EXPECT_NE(error_of([&] {
              detect_format({dir.file("s.h5"), dir.file("s.csv")});
            }).find("one format"),
            std::string::npos);
  EXPECT_EQ(expand_paths(dir.file("s.*") + "," + dir.file("x.bin")).size(), 4u);
}

}  // namespace
}  // namespace dtrain::data
