#include "comm/transport.h"

#include "dtrain/comm/mpi_env.h"

#include <mpi.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

namespace dtrain::comm {

namespace {

// Open MPI components are shared objects named mca_<framework>_<component>.so; the ones mapped
// into this process are the ones its frameworks opened and kept.
std::set<std::string> loaded_components(const std::string& framework) {
  std::set<std::string> names;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const std::string key = "mca_" + framework + "_";
  while (std::getline(maps, line)) {
    const auto p = line.find(key);
    if (p == std::string::npos) continue;
    const auto start = p + key.size();
    const auto end = line.find(".so", start);
    if (end != std::string::npos) names.insert(line.substr(start, end - start));
  }
  return names;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out.empty() ? "?" : out;
}

std::string cvar_string(const char* wanted) {
  int n = 0;
  if (MPI_T_cvar_get_num(&n) != MPI_SUCCESS) return "";
  for (int i = 0; i < n; ++i) {
    char name[256], desc[16];
    int name_len = sizeof name, desc_len = sizeof desc, verbosity, bind, scope;
    MPI_Datatype type;
    MPI_T_enum enumtype;
    if (MPI_T_cvar_get_info(i, name, &name_len, &verbosity, &type, &enumtype, desc, &desc_len,
                            &bind, &scope) != MPI_SUCCESS ||
        std::strcmp(name, wanted) != 0 || type != MPI_CHAR) {
      continue;
    }
    MPI_T_cvar_handle h;
    int count = 0;
    if (MPI_T_cvar_handle_alloc(i, nullptr, &h, &count) != MPI_SUCCESS) return "";
    std::string value(static_cast<std::size_t>(std::max(count, 1)) + 1, '\0');
    MPI_T_cvar_read(h, value.data());
    MPI_T_cvar_handle_free(&h);
    value.resize(std::strlen(value.c_str()));
    return value;
  }
  return "";
}

}  // namespace

std::string TransportInfo::summary() const {
  std::string s = "pml " + pml + ", osc " + osc + ", btl " + btl;
  if (!requested.empty()) s += " (MCA selections: " + requested + ")";
  if (!ucx_tls.empty()) s += ", UCX_TLS=" + ucx_tls;
  if (!note.empty()) s += "; " + note;
  return s;
}

TransportInfo describe_transport() {
  TransportInfo t;
  t.pml = join(loaded_components("pml"));
  t.osc = join(loaded_components("osc"));
  t.btl = join(loaded_components("btl"));
  int provided = 0;
  if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) == MPI_SUCCESS) {
    for (const char* fw : {"pml", "osc", "btl"}) {
      const std::string v = cvar_string(fw);
      if (!v.empty()) t.requested += (t.requested.empty() ? "" : " ") + std::string(fw) + "=" + v;
    }
    MPI_T_finalize();
  }
  if (const char* tls = std::getenv("UCX_TLS")) t.ucx_tls = tls;
  t.note = one_sided_note();
  return t;
}

}  // namespace dtrain::comm
