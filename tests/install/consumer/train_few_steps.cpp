// Built out of tree against an installed dtrain (tests/install/install_tree.sh): a whole job
// (run_job) with the options on the command line, as mnist_train's main() runs one, then the
// model it exported (--export) read back into a model of the same architecture, all through
// the public API.
#include <cstdio>
#include <exception>
#include <string>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/nn/model.h"
#include "dtrain/train/job.h"
#include "dtrain/train/model_file.h"
#include "dtrain/train/options.h"

int main(int argc, char** argv) {
  using namespace dtrain;
  train::TrainOptions options;
  std::string help;
  try {
    if (!train::parse_options(argc, argv, &options, &help)) return 2;
    comm::MpiEnv mpi(&argc, &argv);
    const int rc = train::run_job(options, mpi);
    // Rank 0 is the chief in sync mode, which exported; in async mode a server, whose
    // run_job ends with the window freed by every rank, after the chief exported.
    if (rc != 0 || mpi.rank() != 0 || options.output.export_path.empty()) return rc;
    const nn::Model model(nn::ModelSpec::parse(options.model.arch), nn::Shape{1, 28, 28}, 10);
    const auto params = train::read_model_params(options.output.export_path, model);
    std::printf("read back %zu parameters of %s from %s\n", params.size(),
                options.model.arch.c_str(), options.output.export_path.c_str());
    return params.size() == model.layout().total() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_few_steps: error: %s\n", e.what());
    return 1;
  }
}
