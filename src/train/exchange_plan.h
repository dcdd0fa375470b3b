// The exchange a run uses and why (comm/exchange_model.h): chosen at start-up from links and
// compute measured across the nodes, kept from the checkpoint a run resumes, or fixed by flags.
//
// plan_exchange() runs before the roles are decided (--num-ps auto changes them). It measures
// only when the ranks span nodes and something is left to choose (sync: --exchange, --bucket-mb
// or --compress auto; async: --num-ps auto); every flag the user set limits the choice. The
// measurement is the same on every rank (rank 0's, broadcast) and so is the choice. A resumed
// run of the same mode and ranks keeps the choice its checkpoint recorded (RunInfo::exchange):
// sharded and whole sum in different orders, and a resume should continue the same arithmetic.
#pragma once

#include <string>
#include <vector>

#include "comm/exchange_model.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/train/options.h"

namespace dtrain::train {

struct ExchangePlan {
  comm::ExchangeChoice choice;
  comm::LinkFacts link;                         // link.measured: false when nothing was
  comm::ComputeFacts compute;                   // measured with the links
  std::vector<comm::Alternative> alternatives;  // fastest first; empty when not measured
  comm::ExchangeChoice fallback;                // what the flags alone give (today's default)
  double predicted_step = 0;                    // of `choice` (0: not measured)
  std::string source;                           // why this choice, for the role table
};

// Collective over MPI_COMM_WORLD; node_of_rank as consensus.h's node_of_each_rank().
ExchangePlan plan_exchange(const TrainOptions& o, const comm::MpiEnv& mpi,
                           const std::vector<int>& node_of_rank);

// The lines the role table prints (rank 0): the measured links, every alternative's predicted
// step, the choice and how to pin it. Empty when nothing was measured.
std::string describe_plan(const ExchangePlan& plan);

// The run's measured step against the prediction: a warning when they differ by more than
// kPredictionTolerance (empty otherwise).
inline constexpr double kPredictionTolerance = 0.25;
std::string prediction_miss(const ExchangePlan& plan, double measured_step);

// The choice from its flags() text, as a checkpoint records it; nullopt when it does not parse.
std::optional<comm::ExchangeChoice> parse_choice(comm::Mode mode, const std::string& flags);

}  // namespace dtrain::train
