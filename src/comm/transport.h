// What MPI transport this job runs on, for the start-up table and the metrics: the PML and
// one-sided (osc) components Open MPI loaded, the BTLs, the MCA selections in force, UCX_TLS.
#pragma once

#include <string>

namespace dtrain::comm {

struct TransportInfo {
  std::string pml;        // loaded PML component(s), e.g. "ob1" or "ucx"
  std::string osc;        // loaded osc component(s), e.g. "rdma,sm", "pt2pt", "ucx"
  std::string btl;        // loaded BTLs
  std::string requested;  // MCA pml/osc/btl selections as MPI_T reports them
  std::string ucx_tls;    // UCX_TLS if set
  std::string note;       // a choice dtrain made (see one_sided_note())
  std::string summary() const;
};

// Call after the first window is created (osc components load on demand).
TransportInfo describe_transport();

}  // namespace dtrain::comm
