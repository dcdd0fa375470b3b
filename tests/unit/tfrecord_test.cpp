// TFRecord framing, CRC32C and tf.train.Example decoding, including every kind of bad file:
// each error names the file and the record's byte offset.
#include <gtest/gtest.h>

#include <fstream>

#include "data/crc32c.h"
#include "data/example_codec.h"
#include "data/tfrecord.h"
#include "data/tfrecord_source.h"
#include "dtrain/util/error.h"
#include "example.pb.h"
#include "test_files.h"

namespace dtrain::data {
namespace {

using dtrain::testing::error_of;
using dtrain::testing::TempDir;
using dtrain::testing::write_bytes;

std::vector<std::uint8_t> image_bytes(int seed) {
  std::vector<std::uint8_t> px(784);
  for (int i = 0; i < 784; ++i)
    px[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>((i * 31 + seed * 7) % 256);
  return px;
}

// Writes n examples (label i % 10) and returns the file path.
std::string write_records(const TempDir& dir, const std::string& name, int n, ExampleLayout layout,
                          bool gzip = false) {
  TFRecordWriter w(dir.file(name), gzip);
  for (int i = 0; i < n; ++i)
    w.write(encode_example(image_bytes(i), i % 10, layout, ImageShape{1, 28, 28}));
  w.close();
  return dir.file(name);
}

std::vector<std::uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Crc32c, KnownValuesAndHardwareMatchesTable) {
  const char* s = "123456789";
  EXPECT_EQ(crc32c(s, 9), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(crc32c_portable(s, 9), 0xE3069283u);
  std::vector<std::uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720 B.4
  const auto img = image_bytes(3);
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 100u, 784u})
    EXPECT_EQ(crc32c(img.data(), n), crc32c_portable(img.data(), n));
  // Incremental equals one-shot.
  EXPECT_EQ(crc32c(img.data() + 5, 779, crc32c(img.data(), 5)), crc32c(img.data(), 784));
}

TEST(TFRecord, RoundTripBothLayoutsAndGzip) {
  TempDir dir;
  for (auto layout : {ExampleLayout::kInt64, ExampleLayout::kBytes}) {
    for (bool gz : {false, true}) {
      const auto path = write_records(dir, "r" + std::to_string(gz) + std::to_string(int(layout)),
                                      25, layout, gz);
      TFRecordSource::Options o;
      o.names = layout_feature_names(layout);
      TFRecordSource src({path}, o);
      ASSERT_EQ(src.size(), 25);
      std::vector<float> img(3 * 784);
      std::vector<int32_t> lab(3);
      const int64_t ids[3] = {24, 0, 13};
      EXPECT_TRUE(src.read(ids, img.data(), lab.data()).empty());
      EXPECT_EQ(lab[0], 4);
      EXPECT_EQ(lab[2], 3);
      const auto want = image_bytes(13);
      for (int k = 0; k < 784; ++k)
        ASSERT_FLOAT_EQ(img[2 * 784 + static_cast<std::size_t>(k)],
                        want[static_cast<std::size_t>(k)] / 255.f);
    }
  }
}

TEST(TFRecord, CorruptLengthCrcNamesFileAndOffset) {
  TempDir dir;
  const auto path = write_records(dir, "a.tfrecord", 5, ExampleLayout::kBytes);
  auto bytes = slurp(path);
  const std::size_t frame = bytes.size() / 5;
  bytes[2 * frame + 3] ^= 0x40;  // third record's length field
  write_bytes(path, bytes);
  TFRecordSource::Options o;
  o.names = layout_feature_names(ExampleLayout::kBytes);
  const auto msg = error_of([&] { TFRecordSource({path}, o); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset " + std::to_string(2 * frame)), std::string::npos) << msg;
  EXPECT_NE(msg.find("length CRC"), std::string::npos) << msg;
  // --skip-corrupt: the framing is lost after the bad header, the first two records remain.
  o.skip_corrupt = true;
  TFRecordSource src({path}, o);
  EXPECT_EQ(src.size(), 2);
  EXPECT_EQ(src.skipped_records(), 1);
}

TEST(TFRecord, CorruptDataCrcFailsOnReadOrIsSkipped) {
  TempDir dir;
  const auto path = write_records(dir, "b.tfrecord", 4, ExampleLayout::kInt64);
  auto bytes = slurp(path);
  const std::size_t frame = bytes.size() / 4;
  bytes[frame + 12 + 40] ^= 0x01;  // second record's data
  write_bytes(path, bytes);
  TFRecordSource::Options o;
  TFRecordSource src({path}, o);
  std::vector<float> img(4 * 784);
  std::vector<int32_t> lab(4);
  const int64_t ids[4] = {0, 1, 2, 3};
  const auto msg = error_of([&] { src.read(ids, img.data(), lab.data()); });
  EXPECT_NE(msg.find("byte offset " + std::to_string(frame)), std::string::npos) << msg;
  EXPECT_NE(msg.find("data CRC"), std::string::npos) << msg;
  o.skip_corrupt = true;
  TFRecordSource skipping({path}, o);
  const auto skipped = skipping.read(ids, img.data(), lab.data());
  ASSERT_EQ(skipped, (std::vector<std::size_t>{1}));
  EXPECT_EQ(skipping.skipped_records(), 1);
}

TEST(TFRecord, TruncatedEmptyMissingAndNotTFRecord) {
  TempDir dir;
  const auto path = write_records(dir, "c.tfrecord", 3, ExampleLayout::kBytes);
  auto bytes = slurp(path);
  const std::size_t frame = bytes.size() / 3;
  bytes.resize(bytes.size() - 10);
  write_bytes(path, bytes);
  TFRecordSource::Options o;
  o.names = layout_feature_names(ExampleLayout::kBytes);
  auto msg = error_of([&] { TFRecordSource({path}, o); });
  EXPECT_NE(msg.find("truncated record"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset " + std::to_string(2 * frame)), std::string::npos) << msg;
  bytes.resize(2 * frame + 5);  // a partial header
  write_bytes(path, bytes);
  EXPECT_NE(error_of([&] { TFRecordSource({path}, o); }).find("truncated header"),
            std::string::npos);

  write_bytes(dir.file("empty.tfrecord"), {});
  EXPECT_NE(error_of([&] { TFRecordSource({dir.file("empty.tfrecord")}, o); }).find("empty file"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { TFRecordSource({dir.file("missing.tfrecord")}, o); }).find("cannot open"),
      std::string::npos);
  write_bytes(dir.file("text.tfrecord"), std::vector<std::uint8_t>(100, 'x'));
  EXPECT_NE(
      error_of([&] { TFRecordSource({dir.file("text.tfrecord")}, o); }).find("not a TFRecord"),
      std::string::npos);
}

TEST(TFRecord, WrongFeatureNamesAreCaughtWhenOpening) {
  TempDir dir;
  const auto path = write_records(dir, "d.tfrecord", 2, ExampleLayout::kBytes);
  TFRecordSource::Options o;  // expects "image", the file has "image_raw"
  const auto msg = error_of([&] { TFRecordSource({path}, o); });
  EXPECT_NE(msg.find("image feature 'image' not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("image_raw"), std::string::npos) << msg;  // lists what is there
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  o.names = parse_feature_names("image=image_raw,label=digit");
  EXPECT_NE(error_of([&] { TFRecordSource({path}, o); }).find("label feature 'digit' not found"),
            std::string::npos);
  EXPECT_THROW(parse_feature_names("pixels=x"), OptionError);
}

TEST(ExampleCodec, FloatImagesAndOneHotLabels) {
  tensorflow::Example ex;
  auto& f = *ex.mutable_features()->mutable_feature();
  for (int i = 0; i < 4; ++i) f["image"].mutable_float_list()->add_value(0.25f * i);
  for (int c = 0; c < 10; ++c) f["label"].mutable_int64_list()->add_value(c == 6);
  std::string s;
  ex.SerializeToString(&s);
  float img[4];
  int32_t label = -1;
  decode_example({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, {}, 4, 10, img,
                 &label);
  EXPECT_EQ(label, 6);
  EXPECT_FLOAT_EQ(img[3], 0.75f);
  // Wrong sizes and values are rejected with what was expected.
  auto bad = [&](const std::function<void(tensorflow::Example&)>& edit) {
    tensorflow::Example e = ex;
    edit(e);
    std::string b;
    e.SerializeToString(&b);
    return error_of([&] {
      decode_example({reinterpret_cast<const std::uint8_t*>(b.data()), b.size()}, {}, 4, 10, img,
                     &label);
    });
  };
  EXPECT_NE(
      bad([](auto& e) {
        (*e.mutable_features()->mutable_feature())["image"].mutable_float_list()->add_value(0.f);
      }).find("expected 4 values"),
      std::string::npos);
  EXPECT_NE(bad([](auto& e) {
              (*e.mutable_features()->mutable_feature())["image"].mutable_float_list()->set_value(
                  0, 3.f);
            }).find("outside [0, 1]"),
            std::string::npos);
  EXPECT_NE(bad([](auto& e) {
              (*e.mutable_features()->mutable_feature())["label"].mutable_int64_list()->set_value(
                  0, 1);
            }).find("one-hot"),
            std::string::npos);
  EXPECT_NE(
      bad([](auto& e) {
        (*e.mutable_features()->mutable_feature())["label"].mutable_int64_list()->add_value(0);
      }).find("expected 1"),
      std::string::npos);
  const std::vector<std::uint8_t> junk{0xff, 0xff, 0xff};
  EXPECT_NE(error_of([&] {
              decode_example(junk, {}, 4, 10, img, &label);
            }).find("not a valid tf.train.Example"),
            std::string::npos);
}

}  // namespace
}  // namespace dtrain::data
