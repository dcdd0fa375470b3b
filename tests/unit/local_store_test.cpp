// The node-local store: parts round-trip whole, damaged or foreign ones are refused by name,
// and pruning keeps enough of each series that one lost node still leaves a whole step.
#include "train/local_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include "dtrain/util/error.h"
#include "test_files.h"

namespace dtrain::train {
namespace {

CheckpointPart part_of(const std::string& fingerprint, int64_t step, int writer) {
  CheckpointPart p;
  p.fingerprint = fingerprint;
  p.run = "run-1";
  p.step = step;
  p.writer = writer;
  p.total = 4;
  p.arrays.push_back({"params", {{0, 4}}, {1.0F, 2.0F, 3.0F, static_cast<float>(step)}});
  return p;
}

std::set<std::pair<int64_t, bool>> steps_of(const LocalStore& store, int writer) {
  std::set<std::pair<int64_t, bool>> out;
  for (const auto& f : store.list())
    if (f.writer == writer) out.insert({f.step, f.copy});
  return out;
}

TEST(LocalStore, PartsReadBackWhole) {
  testing::TempDir dir;
  LocalStore store(dir.path().string(), "f00d");
  store.write(20, 1, "state", false, encode(part_of("f00d", 20, 1)));
  const auto found = store.list();
  ASSERT_EQ(found.size(), 1U);
  const CheckpointPart p = store.read(found[0]);
  EXPECT_EQ(p.step, 20);
  EXPECT_EQ(p.writer, 1);
  EXPECT_FLOAT_EQ(p.arrays.at(0).values.at(3), 20.0F);
}

TEST(LocalStore, TornAndForeignPartsAreNamed) {
  testing::TempDir dir;
  LocalStore store(dir.path().string(), "f00d");
  store.write(20, 0, "state", false, encode(part_of("f00d", 20, 0)));
  store.write(30, 0, "state", false, encode(part_of("beef", 30, 0)));  // another job's bytes
  for (const auto& f : store.list()) {
    if (f.step == 20) std::filesystem::resize_file(f.path, std::filesystem::file_size(f.path) / 2);
    try {
      store.read(f);
      ADD_FAILURE() << "read " << f.path;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(f.path), std::string::npos) << e.what();
    }
  }
}

// Own parts keep three steps, copies two: a copy lands up to one interval after its writer's
// own part, and the step before must stay whole on both sides.
TEST(LocalStore, PrunesEachSeriesOnItsOwn) {
  testing::TempDir dir;
  LocalStore store(dir.path().string(), "f00d");
  for (int64_t s = 10; s <= 50; s += 10) {
    store.write(s, 0, "state", false, encode(part_of("f00d", s, 0)));
    if (s < 50) store.write(s, 1, "state", true, encode(part_of("f00d", s, 1)));
  }
  const std::set<std::pair<int64_t, bool>> own{{30, false}, {40, false}, {50, false}};
  const std::set<std::pair<int64_t, bool>> copies{{30, true}, {40, true}};
  EXPECT_EQ(steps_of(store, 0), own);
  EXPECT_EQ(steps_of(store, 1), copies);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(store.root()) / "step-0000000010"));
  store.remove_all();
  EXPECT_FALSE(std::filesystem::exists(store.root()));
}

// The restore reports the newest step any rank reached, and the interval of a rank that
// saves: in async mode the fastest rank is often a worker, which saves nothing.
TEST(LocalStore, ReachedIsTheNewestStepWithTheSaversInterval) {
  testing::TempDir dir;
  LocalStore store(dir.path().string(), "f00d");
  EXPECT_EQ(store.reached().step, -1);
  LocalStore worker(dir.path().string(), "f00d"), server(dir.path().string(), "f00d");
  worker.record_reached(3, 145, -1);
  server.record_reached(0, 131, 24);
  const LocalStore::Reached r = store.reached();
  EXPECT_EQ(r.step, 145);
  EXPECT_EQ(r.interval, 24);
}

}  // namespace
}  // namespace dtrain::train
