// libFuzzer target: TFRecord framing and tf.train.Example decoding on arbitrary bytes.
// Whatever the input, the parser must either succeed or throw DataError: no crash, no leak, no
// hang, no allocation sized from an unchecked length.
#include <cstdint>
#include <vector>

#include "data/example_codec.h"
#include "data/tfrecord.h"
#include "dtrain/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dtrain::data;
  const std::span<const std::uint8_t> bytes(data, size);
  static const FeatureNames kNames[] = {{"image", "label"}, {"image_raw", "label"}};
  std::vector<float> image(784);
  std::int32_t label = 0;
  for (bool skip : {false, true}) {
    try {
      const FrameScan scan = scan_frames(bytes, "fuzz", true, skip);
      for (const auto& r : scan.records) {
        for (const auto& names : kNames) {
          const auto record = bytes.subspan(r.offset + kFrameHeaderBytes, r.length);
          try {
            example_image_shape(record, names);
            decode_example(record, names, 784, 10, image.data(), &label);
          } catch (const dtrain::DataError&) {
          }
        }
      }
    } catch (const dtrain::DataError&) {
    }
  }
  // The input itself as one Example (most mutations never make a valid frame).
  for (const auto& names : kNames) {
    try {
      example_image_shape(bytes, names);
      decode_example(bytes, names, 784, 10, image.data(), &label);
    } catch (const dtrain::DataError&) {
    }
  }
  return 0;
}
