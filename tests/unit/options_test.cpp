// Option parsing: defaults, config files, and invalid values rejected with a message that
// names the option and what is allowed.
#include <gtest/gtest.h>

#include <fstream>

#include "dtrain/train/options.h"
#include "dtrain/util/error.h"
#include "test_files.h"

namespace dtrain::train {
namespace {

bool parse(std::vector<std::string> args, TrainOptions* o, std::string* help = nullptr) {
  std::vector<char*> argv{const_cast<char*>("mnist_train")};
  for (auto& a : args) argv.push_back(a.data());
  std::string h;
  return parse_options(static_cast<int>(argv.size()), argv.data(), o, help ? help : &h);
}

std::string error_for(std::vector<std::string> args) {
  TrainOptions o;
  try {
    parse(std::move(args), &o);
  } catch (const OptionError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(Options, DefaultsAndHelp) {
  TrainOptions o;
  ASSERT_TRUE(parse({}, &o));
  EXPECT_EQ(o.training.batch_size, 100);
  EXPECT_EQ(o.model.optimizer, optim::OptimizerKind::kAdam);
  EXPECT_FALSE(o.dist.dist.has_value());
  EXPECT_EQ(o.recorded.at("batch-size"), "100");
  std::string help;
  TrainOptions h;
  EXPECT_FALSE(parse({"--help"}, &h, &help));
  for (const char* opt :
       {"--data-dir", "--batch-size", "--epochs", "--steps", "--lr", "--optimizer", "--seed",
        "--threads", "--eval-every", "--metrics-json", "--config"}) {
    EXPECT_NE(help.find(opt), std::string::npos) << opt;
  }
  for (const char* group : {"Data:", "Model:", "Training:", "Distribution:", "Output"})
    EXPECT_NE(help.find(group), std::string::npos) << group;
}

// --version names the build and what it runs on, without MPI_Init (MPI allows the library
// version before it): a site reports it with a bug.
TEST(Options, VersionNamesTheBuildAndItsLibraries) {
  TrainOptions o;
  std::string text;
  EXPECT_FALSE(parse({"--version"}, &o, &text));
  EXPECT_EQ(text.rfind("mnist_train (dtrain) ", 0), 0u) << text;
  EXPECT_NE(text.find(", commit "), std::string::npos) << text;
  for (const char* library :
       {"MPI:", "Open MPI v", "UCX:", "oneDNN:", "HDF5:", "(parallel)", "Protobuf:", "Boost:"})
    EXPECT_NE(text.find(library), std::string::npos) << library << " in\n" << text;
}

TEST(Options, InvalidValuesNameTheOption) {
  struct Case {
    std::vector<std::string> args;
    const char* must_contain;
  };
  for (const auto& c : std::vector<Case>{{{"--optimizer", "rmsprop"}, "--optimizer"},
                                         {{"--optimizer", "rmsprop"}, "adam, sgd"},
                                         {{"--batch-size", "0"}, "--batch-size"},
                                         {{"--batch-size", "ten"}, "batch-size"},
                                         {{"--lr", "-1"}, "--lr"},
                                         {{"--epochs", "0"}, "--epochs"},
                                         {{"--dist", "ring"}, "--dist"},
                                         {{"--format", "csv"}, "--format"},
                                         {{"--bogus"}, "bogus"},
                                         {{"--exchange", "fast"}, "auto, sharded, whole, ring"},
                                         {{"--num-ps", "0"}, "expected auto or a whole number"},
                                         {{"--num-ps", "two"}, "--num-ps"},
                                         {{"--bucket-mb", "-1"}, "--bucket-mb"},
                                         {{"--compress", "int8"}, "none, fp16, auto"},
                                         {{"--config", "/nonexistent.cfg"}, "--config"}}) {
    const auto msg = error_for(c.args);
    EXPECT_NE(msg.find(c.must_contain), std::string::npos) << c.args[0] << ": " << msg;
  }
}

TEST(Options, ConfigFileWithCommandLineWinning) {
  dtrain::testing::TempDir dir;
  {
    std::ofstream f(dir.file("run.cfg"));
    f << "batch-size = 64\nlr = 0.01\noptimizer = sgd\n";
  }
  TrainOptions o;
  ASSERT_TRUE(parse({"--config", dir.file("run.cfg"), "--lr", "0.5"}, &o));
  EXPECT_EQ(o.training.batch_size, 64);
  EXPECT_EQ(o.model.optimizer, optim::OptimizerKind::kSgd);
  EXPECT_FLOAT_EQ(o.model.lr, 0.5f);
  {
    std::ofstream f(dir.file("bad.cfg"));
    f << "batch-size = -3\n";
  }
  EXPECT_NE(error_for({"--config", dir.file("bad.cfg")}).find("--batch-size"), std::string::npos);
}

// The exchange's flags: auto where the user says nothing (a number where given), fp16 on the
// wire only when asked for or allowed.
TEST(Options, ExchangeChoicesDefaultToAuto) {
  TrainOptions o;
  ASSERT_TRUE(parse({}, &o));
  EXPECT_EQ(o.dist.exchange, comm::ExchangeKind::kAuto);
  EXPECT_EQ(o.dist.bucket_mb, 0);
  EXPECT_EQ(o.dist.num_ps, 1);
  EXPECT_FALSE(o.dist.compress_auto);
  EXPECT_EQ(o.recorded.at("bucket-mb"), "auto");
  TrainOptions p;
  ASSERT_TRUE(parse(
      {"--exchange", "ring", "--bucket-mb", "2.5", "--num-ps", "auto", "--compress", "auto"}, &p));
  EXPECT_EQ(p.dist.exchange, comm::ExchangeKind::kRing);
  EXPECT_DOUBLE_EQ(p.dist.bucket_mb, 2.5);
  EXPECT_EQ(p.dist.num_ps, 0);
  EXPECT_TRUE(p.dist.compress_auto);
  EXPECT_EQ(p.dist.compress, comm::Compression::kNone);
}

TEST(Options, ChoicesBecomeEnums) {
  TrainOptions o;
  ASSERT_TRUE(parse({"--dist", "sync", "--mode", "inference", "--model", "m.h5", "--output", "out",
                     "--format", "tfrecord", "--output-format", "csv", "--shard-by", "files"},
                    &o));
  EXPECT_EQ(o.dist.dist, comm::Mode::kSync);
  EXPECT_EQ(o.mode, RunMode::kInference);
  EXPECT_EQ(o.data.format, data::Format::kTfrecord);
  EXPECT_EQ(o.output.output_format, OutputFormat::kCsv);
  EXPECT_EQ(o.data.shard_by, data::ShardPolicy::kFiles);
  EXPECT_NE(error_for({"--hdf5-collective"}).find("hdf5-collective"), std::string::npos)
      << "the option was removed";
}

TEST(Options, RulesBetweenOptionsAreRefusedByName) {
  struct Case {
    std::vector<std::string> args;
    const char* must_contain;
  };
  for (const auto& c : std::vector<Case>{
           {{"--resume"}, "--resume needs --model-dir"},
           {{"--mode", "inference", "--output", "out"}, "needs --model FILE"},
           {{"--mode", "inference", "--model", "m.h5"}, "needs --output DIR"},
           {{"--mode", "export", "--model", "m.h5"}, "--export FILE"},
           {{"--shared-params", "--no-shard-optimizer"}, "drop --no-shard-optimizer"},
           {{"--dist", "async", "--compress", "fp16"}, "not the pushes of --dist async"},
           {{"--local-checkpoint-steps", "5"}, "needs --local-checkpoint-dir"},
           {{"--dist", "sync", "--num-ps", "auto"}, "--dist sync has none"},
           {{"--dist", "async", "--exchange", "ring"}, "through parameter servers"},
           {{"--dist", "async", "--compress", "auto"}, "not the pushes of --dist async"},
           {{"--exchange", "sharded", "--no-shard-optimizer"}, "contradict"},
           {{"--exchange", "whole", "--shared-params"}, "drop --exchange whole"}}) {
    const auto msg = error_for(c.args);
    EXPECT_NE(msg.find(c.must_contain), std::string::npos) << c.args[0] << ": " << msg;
  }
  for (const auto& ok : std::vector<std::vector<std::string>>{
           {"--resume", "--model-dir", "d"},
           {"--dist", "sync", "--compress", "fp16"},
           {"--compress", "fp16"},  // the default --dist: decided with the number of ranks
           {"--local-checkpoint-steps", "5", "--local-checkpoint-dir", "/dev/shm/l"},
           {"--local-checkpoint-steps", "auto"},
           {"--dist", "async", "--num-ps", "auto"},
           {"--dist", "sync", "--exchange", "ring", "--compress", "auto", "--bucket-mb", "auto"}})
    EXPECT_EQ(error_for(ok), "(accepted)") << ok[0];
}

}  // namespace
}  // namespace dtrain::train
