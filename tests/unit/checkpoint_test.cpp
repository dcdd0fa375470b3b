// Checkpoints record the row splits of a --balance speed run, in the --model-dir file and in a
// node-local part, so that a resumed run continues with them; --replay-splits reads them back
// and refuses a file without them, by name.
#include <gtest/gtest.h>

#include <filesystem>

#include "dtrain/train/checkpoint.h"
#include "dtrain/util/error.h"
#include "test_files.h"
#include "train/checkpoint_part.h"

namespace dtrain::train {
namespace {

using dtrain::testing::error_of;

nn::ParameterLayout small_layout() {
  nn::ParameterLayout layout;
  layout.add("dense/kernel", {3, 4});
  layout.add("dense/bias", {3});
  return layout;
}

TrainingState state_with_splits() {
  TrainingState s;
  s.global_step = 40;
  s.model = "dense:3";
  s.input = {1, 2, 2};
  s.run.mode = "sync";
  s.run.ranks = s.run.workers = 2;
  s.params.assign(small_layout().total(), 0.5F);
  s.row_splits = {{0, {50, 50}}, {16, {62, 38}}, {46, {75, 25}}};
  return s;
}

TEST(Checkpoint, RowSplitsRoundTripInTheFile) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "ckpt.h5").string();
  const auto layout = small_layout();
  write_checkpoint(path, layout, state_with_splits());
  EXPECT_EQ(read_checkpoint(path, layout).row_splits, state_with_splits().row_splits);
  EXPECT_EQ(read_row_splits(path), state_with_splits().row_splits);
  // An even run's checkpoint has none: --replay-splits says so, naming the file.
  TrainingState even = state_with_splits();
  even.row_splits.clear();
  const std::string plain = (dir.path() / "plain.h5").string();
  write_checkpoint(plain, layout, even);
  EXPECT_TRUE(read_checkpoint(plain, layout).row_splits.empty());
  const std::string why = error_of([&] { read_row_splits(plain); });
  EXPECT_NE(why.find(plain), std::string::npos) << why;
  EXPECT_NE(why.find("no row splits"), std::string::npos) << why;
}

TEST(Checkpoint, RowSplitsRoundTripInANodeLocalPart) {
  CheckpointPart p;
  p.fingerprint = "f00d";
  p.run = "run-1";
  p.step = 40;
  p.total = 4;
  p.facts = state_with_splits();
  p.facts->params.clear();
  p.arrays.push_back({"params", {{0, 4}}, {1.0F, 2.0F, 3.0F, 4.0F}});
  const std::vector<char> bytes = encode(p);
  const CheckpointPart back = decode(bytes.data(), bytes.size(), "part");
  ASSERT_TRUE(back.facts.has_value());
  EXPECT_EQ(back.facts->row_splits, state_with_splits().row_splits);
}

}  // namespace
}  // namespace dtrain::train
