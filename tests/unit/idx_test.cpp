// IDX reading: valid raw and gzip files, and every way a file can be wrong, each with a message
// that names the file and says what was expected.
#include <gtest/gtest.h>

#include "data/idx.h"
#include "data/memory_source.h"
#include "dtrain/util/error.h"
#include "test_files.h"

namespace dtrain::data {
namespace {

using dtrain::testing::error_of;
using dtrain::testing::idx_bytes;
using dtrain::testing::TempDir;
using dtrain::testing::write_bytes;
using dtrain::testing::write_gzip;

std::vector<std::uint8_t> pixels(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7);
  return v;
}

TEST(Idx, ReadsRawAndGzipIdentically) {
  TempDir dir;
  const auto bytes = idx_bytes({3, 2, 2}, pixels(12));
  write_bytes(dir.file("a-images-idx3-ubyte"), bytes);
  write_gzip(dir.file("b-images-idx3-ubyte.gz"), bytes);
  const auto raw = read_idx(dir.file("a-images-idx3-ubyte"));
  const auto gz = read_idx(dir.file("b-images-idx3-ubyte.gz"));
  EXPECT_EQ(raw.dims, (std::vector<std::uint32_t>{3, 2, 2}));
  EXPECT_EQ(raw.values, pixels(12));
  EXPECT_EQ(gz.dims, raw.dims);
  EXPECT_EQ(gz.values, raw.values);
}

TEST(Idx, BadMagic) {
  TempDir dir;
  auto bytes = idx_bytes({2}, {1, 2});
  bytes[0] = 0x1f;
  write_bytes(dir.file("x"), bytes);
  const auto msg = error_of([&] { read_idx(dir.file("x")); });
  EXPECT_NE(msg.find(dir.file("x")), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad magic"), std::string::npos) << msg;
}

TEST(Idx, WrongElementType) {
  auto bytes = idx_bytes({2}, {0, 0, 0, 0, 0, 0, 0, 0});
  bytes[2] = 0x0D;
  const auto msg = error_of([&] { parse_idx(bytes, "f.idx"); });
  EXPECT_NE(msg.find("float"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 0x08"), std::string::npos) << msg;
}

TEST(Idx, TruncatedHeaderAndData) {
  const auto full = idx_bytes({4, 3}, pixels(12));
  const auto short_header = std::vector<std::uint8_t>(full.begin(), full.begin() + 6);
  EXPECT_NE(error_of([&] { parse_idx(short_header, "h"); }).find("truncated IDX header"),
            std::string::npos);
  const auto short_data = std::vector<std::uint8_t>(full.begin(), full.end() - 5);
  const auto msg = error_of([&] { parse_idx(short_data, "d"); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("12 elements"), std::string::npos) << msg;
  auto longer = full;
  longer.push_back(1);
  EXPECT_NE(error_of([&] { parse_idx(longer, "t"); }).find("trailing data"), std::string::npos);
  EXPECT_NE(error_of([&] {
              parse_idx(std::vector<std::uint8_t>{0, 0}, "e");
            }).find("shorter than"),
            std::string::npos);
}

TEST(Idx, TruncatedGzip) {
  TempDir dir;
  write_gzip(dir.file("full.gz"), idx_bytes({1000}, pixels(1000)));
  std::ifstream in(dir.file("full.gz"), std::ios::binary);
  std::vector<std::uint8_t> gz((std::istreambuf_iterator<char>(in)), {});
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("half.gz"), gz);
  const auto msg = error_of([&] { read_idx(dir.file("half.gz")); });
  EXPECT_NE(msg.find("half.gz"), std::string::npos) << msg;
}

TEST(Idx, MissingFileAndDirectory) {
  TempDir dir;
  EXPECT_NE(error_of([&] { read_idx(dir.file("nope")); }).find("cannot open"), std::string::npos);
  const auto msg = error_of([&] { MemorySource::from_idx_dir(dir.file("empty"), "train"); });
  EXPECT_NE(msg.find("--data-dir"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;
}

TEST(Idx, ImagesAndLabelsMustAgree) {
  TempDir dir;
  write_bytes(dir.file("train-images-idx3-ubyte"), idx_bytes({3, 2, 2}, pixels(12)));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_bytes({2}, {1, 2}));
  const auto msg = error_of([&] { MemorySource::from_idx_dir(dir.path().string(), "train"); });
  EXPECT_NE(msg.find("3 images"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 labels"), std::string::npos) << msg;
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_bytes({3, 1}, {1, 2, 3}));
  EXPECT_NE(
      error_of([&] { MemorySource::from_idx_dir(dir.path().string(), "train"); }).find("rank-1"),
      std::string::npos);
}

TEST(Idx, SourceScalesPixelsAndFindsDottedNames) {
  TempDir dir;
  write_gzip(dir.file("t10k-images.idx3-ubyte.gz"), idx_bytes({2, 1, 2}, {0, 255, 51, 102}));
  write_bytes(dir.file("t10k-labels.idx1-ubyte"), idx_bytes({2}, {4, 9}));
  auto src = MemorySource::from_idx_dir(dir.path().string(), "t10k");
  ASSERT_EQ(src->size(), 2);
  float img[4];
  int32_t lab[2];
  const int64_t ids[2] = {1, 0};
  src->read(ids, img, lab);
  EXPECT_FLOAT_EQ(img[0], 0.2f);
  EXPECT_FLOAT_EQ(img[1], 0.4f);
  EXPECT_FLOAT_EQ(img[3], 1.0f);
  EXPECT_EQ(lab[0], 9);
  EXPECT_EQ(lab[1], 4);
}

}  // namespace
}  // namespace dtrain::data
