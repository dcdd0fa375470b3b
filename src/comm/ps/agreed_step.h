// AgreedStep: the step at which every async worker acts on a checkpoint, a stop or a
// node-local cut, as the one word the chief publishes on server 0 (window.h, "Agreed step").
// Step and kinds share the word so that one atomic replace publishes both; besides an agreed
// step the word holds kNone (nothing agreed) or kChoosing (the chief is choosing: wait).
#pragma once

#include <cstdint>
#include <optional>

namespace dtrain::comm {

class AgreedStep {
 public:
  enum Kind : int64_t { kCheckpoint = 1, kStop = 2, kLocal = 4 };
  static constexpr int64_t kNone = 0;
  static constexpr int64_t kChoosing = -1;

  // kinds: an OR of Kind, not 0.
  AgreedStep(int64_t step, int64_t kinds) : step_(step), kinds_(kinds) {}
  // The agreed step a word holds; none for kNone and kChoosing.
  static std::optional<AgreedStep> from_word(int64_t word) {
    if (word <= 0) return std::nullopt;
    return AgreedStep(word / kSpan, word % kSpan);
  }
  int64_t word() const { return step_ * kSpan + kinds_; }

  int64_t step() const { return step_; }
  bool has(Kind k) const { return (kinds_ & k) != 0; }
  // A node-local cut alone: nobody pauses (a checkpoint's pause makes a cut redundant).
  bool cut_only() const { return kinds_ == kLocal; }

 private:
  static constexpr int64_t kSpan = 8;  // above every OR of Kind
  int64_t step_, kinds_;
};

}  // namespace dtrain::comm
