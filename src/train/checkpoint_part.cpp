#include "train/checkpoint_part.h"

#include <algorithm>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "comm/consensus.h"
#include "data/crc32c.h"
#include "dtrain/util/error.h"

namespace dtrain::train {

using nlohmann::json;

namespace {

constexpr char kMagic[8] = {'D', 'T', 'R', 'A', 'I', 'N', 'L', 'P'};
constexpr const char* kFormat = "dtrain-local-part-v1";
// A header longer than this, or more floats, is not one dtrain wrote (a guard for decode()).
constexpr std::size_t kMaxHeader = 1 << 24;
constexpr std::size_t kMaxFloats = std::size_t{1} << 34;

json splits_json(const std::vector<RowSplit>& splits) {
  json out = json::array();
  for (const auto& c : splits) out.push_back({{"from_step", c.from_step}, {"rows", c.rows}});
  return out;
}

std::vector<RowSplit> splits_from(const json& j) {
  std::vector<RowSplit> out;
  for (const auto& c : j)
    out.push_back({c.at("from_step").get<int64_t>(), c.at("rows").get<std::vector<int64_t>>()});
  return out;
}

json facts_json(const TrainingState& s) {
  return {{"global_step", s.global_step},
          {"row_splits", splits_json(s.row_splits)},
          {"epoch", s.epoch},
          {"model", s.model},
          {"input", {s.input.c, s.input.h, s.input.w}},
          {"optimizer", optim::to_string(s.optimizer)},
          {"optimizer_steps", s.optimizer_steps},
          {"worker_steps", s.worker_steps},
          {"run",
           {{"mode", s.run.mode},
            {"ranks", s.run.ranks},
            {"num_ps", s.run.num_ps},
            {"workers", s.run.workers},
            {"seed", s.run.seed},
            {"exchange", s.run.exchange},
            {"options", s.run.options}}}};
}

TrainingState facts_from(const json& j) {
  TrainingState s;
  s.global_step = j.at("global_step").get<int64_t>();
  s.epoch = j.at("epoch").get<double>();
  s.model = j.at("model").get<std::string>();
  const auto in = j.at("input").get<std::vector<int64_t>>();
  if (in.size() != 3) throw DataError("input shape has " + std::to_string(in.size()) + " numbers");
  s.input = {in[0], in[1], in[2]};
  const auto opt = j.at("optimizer").get<std::string>();
  if (opt != "adam" && opt != "sgd") throw DataError("unknown optimizer '" + opt + "'");
  s.optimizer = opt == "sgd" ? optim::OptimizerKind::kSgd : optim::OptimizerKind::kAdam;
  s.optimizer_steps = j.at("optimizer_steps").get<int64_t>();
  s.worker_steps = j.at("worker_steps").get<std::vector<int64_t>>();
  if (j.contains("row_splits")) s.row_splits = splits_from(j.at("row_splits"));
  const json& r = j.at("run");
  s.run.mode = r.at("mode").get<std::string>();
  s.run.ranks = r.at("ranks").get<int>();
  s.run.num_ps = r.at("num_ps").get<int>();
  s.run.workers = r.at("workers").get<int>();
  s.run.seed = r.at("seed").get<std::uint64_t>();
  s.run.options = r.at("options").get<std::map<std::string, std::string>>();
  if (r.contains("exchange")) s.run.exchange = r.at("exchange").get<std::string>();
  return s;
}

json header_json(const CheckpointPart& p) {
  json arrays = json::array();
  for (const auto& a : p.arrays) {
    json ranges = json::array();
    for (const auto& r : a.ranges) ranges.push_back({r.begin, r.end});
    arrays.push_back({{"name", a.name}, {"ranges", ranges}});
  }
  json servers = json::array();
  for (const auto& c : p.servers)
    servers.push_back({c.begin, c.end, c.pushes_applied, c.optimizer_steps});
  json h = {{"format", kFormat},  {"fingerprint", p.fingerprint},
            {"run", p.run},       {"step", p.step},
            {"writer", p.writer}, {"total", p.total},
            {"servers", servers}, {"arrays", arrays}};
  if (p.facts) h["facts"] = facts_json(*p.facts);
  return h;
}

std::size_t range_floats(const std::vector<nn::ParamRange>& ranges) {
  std::size_t n = 0;
  for (const auto& r : ranges) n += r.size();
  return n;
}

// The header's fields into `p` (arrays without values); throws on anything missing or wrong.
void parse_header(const json& h, CheckpointPart& p) {
  if (h.at("format").get<std::string>() != kFormat)
    throw DataError("format '" + h.at("format").get<std::string>() + "', expected " + kFormat);
  p.fingerprint = h.at("fingerprint").get<std::string>();
  p.run = h.at("run").get<std::string>();
  p.step = h.at("step").get<int64_t>();
  p.writer = h.at("writer").get<int>();
  p.total = h.at("total").get<std::size_t>();
  if (p.step < 0 || p.writer < 0 || p.total == 0 || p.total > kMaxFloats)
    throw DataError("step, writer or size out of range");
  for (const auto& c : h.at("servers")) {
    const auto v = c.get<std::vector<int64_t>>();
    if (v.size() != 4 || v[0] < 0 || v[0] > v[1] || static_cast<std::size_t>(v[1]) > p.total)
      throw DataError("a server's counters are malformed");
    p.servers.push_back(
        {static_cast<std::size_t>(v[0]), static_cast<std::size_t>(v[1]), v[2], v[3]});
  }
  for (const auto& a : h.at("arrays")) {
    PartArray arr;
    arr.name = a.at("name").get<std::string>();
    for (const auto& r : a.at("ranges")) {
      const auto v = r.get<std::vector<std::size_t>>();
      if (v.size() != 2 || v[0] > v[1] || v[1] > p.total)
        throw DataError("array '" + arr.name + "' has a range outside the model");
      arr.ranges.push_back({v[0], v[1]});
    }
    p.arrays.push_back(std::move(arr));
  }
  if (h.contains("facts")) p.facts = facts_from(h.at("facts"));
}

}  // namespace

std::size_t CheckpointPart::floats() const {
  std::size_t n = 0;
  for (const auto& a : arrays) n += a.values.size();
  return n;
}

std::string local_fingerprint(const TrainingState& facts, const std::string& model_dir) {
  const std::string identity = facts.model + "|" + facts.input.str() + "|" +
                               optim::to_string(facts.optimizer) + "|" +
                               std::to_string(facts.run.seed) + "|" + model_dir;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(comm::fnv1a(identity)));
  return hex;
}

std::vector<char> encode(const CheckpointPart& part) {
  for (const auto& a : part.arrays) {
    if (a.values.size() != range_floats(a.ranges))
      throw Error("checkpoint part: array '" + a.name + "' holds another size than its ranges");
  }
  const std::string header = header_json(part).dump();
  const auto hlen = static_cast<std::uint32_t>(header.size());
  std::vector<char> out(sizeof kMagic + 4 + header.size() + part.floats() * sizeof(float) + 4);
  char* p = out.data();
  std::memcpy(p, kMagic, sizeof kMagic);
  std::memcpy(p + 8, &hlen, 4);
  std::memcpy(p + 12, header.data(), header.size());
  p += 12 + header.size();
  for (const auto& a : part.arrays) {
    std::memcpy(p, a.values.data(), a.values.size() * sizeof(float));
    p += a.values.size() * sizeof(float);
  }
  const std::uint32_t crc = data::crc32c(out.data(), out.size() - 4);
  std::memcpy(p, &crc, 4);
  return out;
}

CheckpointPart decode(const char* data, std::size_t size, const std::string& what) {
  auto bad = [&](const std::string& why) { return DataError(what + ": " + why); };
  if (size < 16 || std::memcmp(data, kMagic, sizeof kMagic) != 0)
    throw bad("not a dtrain local checkpoint part");
  std::uint32_t hlen = 0, crc = 0;
  std::memcpy(&hlen, data + 8, 4);
  if (hlen > kMaxHeader || hlen > size - 16) throw bad("torn: the header runs past the end");
  std::memcpy(&crc, data + size - 4, 4);
  if (data::crc32c(data, size - 4) != crc) throw bad("torn or damaged: the CRC-32C does not match");
  CheckpointPart p;
  try {
    parse_header(json::parse(data + 12, data + 12 + hlen), p);
  } catch (const json::exception& e) {
    throw bad(std::string("damaged header: ") + e.what());
  } catch (const DataError& e) {
    throw bad(e.what());
  }
  const char* payload = data + 12 + hlen;
  std::size_t left = size - 16 - hlen;
  for (auto& a : p.arrays) {
    const std::size_t n = range_floats(a.ranges);
    if (n > left / sizeof(float)) throw bad("torn: array '" + a.name + "' runs past the end");
    a.values.resize(n);
    std::memcpy(a.values.data(), payload, n * sizeof(float));
    payload += n * sizeof(float);
    left -= n * sizeof(float);
  }
  if (left != 0) throw bad(std::to_string(left) + " bytes after the last array");
  return p;
}

std::string header_text(const CheckpointPart& part) {
  return header_json(part).dump();
}

CheckpointPart from_header_text(const std::string& text, const std::string& what) {
  CheckpointPart p;
  try {
    parse_header(json::parse(text), p);
  } catch (const json::exception& e) {
    throw DataError(what + ": damaged header: " + e.what());
  } catch (const DataError& e) {
    throw DataError(what + ": " + e.what());
  }
  return p;
}

namespace {

// Which floats of one flat buffer the parts cover, and (when they carry them) their values.
struct Coverage {
  std::vector<float> values;
  std::vector<char> covered;
  explicit Coverage(std::size_t total) : covered(total, 0) {}
  void fill(const PartArray& a) {
    const bool with_values = !a.values.empty();
    if (with_values && values.empty()) values.assign(covered.size(), 0.f);
    std::size_t at = 0;
    for (const auto& r : a.ranges) {
      if (with_values)
        std::copy_n(a.values.begin() + static_cast<std::ptrdiff_t>(at), r.size(),
                    values.begin() + static_cast<std::ptrdiff_t>(r.begin));
      std::fill_n(covered.begin() + static_cast<std::ptrdiff_t>(r.begin), r.size(), 1);
      at += r.size();
    }
  }
  bool whole() const {
    return std::all_of(covered.begin(), covered.end(), [](char c) { return c != 0; });
  }
};

// Every array a whole step needs, filled from the parts; "" or what is missing.
std::string cover(const std::vector<const CheckpointPart*>& parts,
                  std::map<std::string, Coverage>* arrays, const CheckpointPart** with_facts) {
  *with_facts = nullptr;
  for (const auto* p : parts)
    if (p->facts && !*with_facts) *with_facts = p;
  if (!*with_facts) return "the step's facts (the chief's or a node writer's part)";
  const std::size_t total = (*with_facts)->total;
  arrays->emplace("params", Coverage(total));
  for (const auto& name : optim::state_names((*with_facts)->facts->optimizer))
    arrays->emplace(name, Coverage(total));
  for (const auto* p : parts) {
    if (p->total != total)
      return "parts of one model size (rank " + std::to_string(p->writer) + "'s differs)";
    for (const auto& a : p->arrays)
      if (auto it = arrays->find(a.name); it != arrays->end()) it->second.fill(a);
  }
  for (const auto& [name, c] : *arrays)
    if (!c.whole()) return "part of '" + name + "'";
  return "";
}

}  // namespace

std::string missing_from(const std::vector<const CheckpointPart*>& parts) {
  std::map<std::string, Coverage> arrays;
  const CheckpointPart* with_facts = nullptr;
  return cover(parts, &arrays, &with_facts);
}

std::optional<TrainingState> assemble(const std::vector<CheckpointPart>& parts,
                                      std::string* missing) {
  std::vector<const CheckpointPart*> all;
  for (const auto& p : parts) all.push_back(&p);
  std::map<std::string, Coverage> arrays;
  const CheckpointPart* with_facts = nullptr;
  *missing = cover(all, &arrays, &with_facts);
  if (!missing->empty()) return std::nullopt;
  TrainingState s = *with_facts->facts;
  s.params = std::move(arrays.at("params").values);
  for (const auto& name : optim::state_names(s.optimizer))
    s.optimizer_state.emplace_back(name, std::move(arrays.at(name).values));
  std::map<std::size_t, ServerCounters> servers;
  for (const auto& p : parts)
    for (const auto& c : p.servers) servers[c.begin] = c;
  for (const auto& [begin, c] : servers) s.servers.push_back(c);
  if (!s.servers.empty()) s.optimizer_steps = s.servers.front().optimizer_steps;
  return s;
}

}  // namespace dtrain::train
