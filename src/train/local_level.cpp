#include "train/local_level.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <map>

#include "dtrain/util/error.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace {

constexpr int kHeaderTag = 1, kBytesTag = 2, kConfirmTag = 3;
// A header's first word when no bytes follow: the sender has finished, or it has sent every
// part of the step in the header.
constexpr int64_t kSenderDone = -1, kStepSent = -2;
const char* const kKinds[] = {"state", "params"};

int kind_index(const std::string& kind) {
  return kind == "params" ? 1 : 0;
}

// The ranks of each node, in rank order, nodes in the order of their lowest rank.
std::vector<std::vector<int>> ranks_by_node(const std::vector<int>& node_of_rank) {
  std::map<int, std::vector<int>> nodes;
  for (int r = 0; r < static_cast<int>(node_of_rank.size()); ++r)
    nodes[node_of_rank[static_cast<std::size_t>(r)]].push_back(r);
  std::vector<std::vector<int>> out;
  for (auto& [node, ranks] : nodes) out.push_back(std::move(ranks));
  return out;
}

int partner_of(int rank, const std::vector<std::vector<int>>& nodes) {
  if (nodes.size() < 2) return -1;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const auto it = std::find(nodes[n].begin(), nodes[n].end(), rank);
    if (it == nodes[n].end()) continue;
    const auto& next = nodes[(n + 1) % nodes.size()];
    const auto index = static_cast<std::size_t>(it - nodes[n].begin());
    return next[index % next.size()];
  }
  return -1;
}

}  // namespace

Partners Partners::of(int rank, const std::vector<int>& node_of_rank) {
  const auto nodes = ranks_by_node(node_of_rank);
  Partners p;
  p.partner = partner_of(rank, nodes);
  for (int r = 0; r < static_cast<int>(node_of_rank.size()); ++r)
    if (partner_of(r, nodes) == rank) p.senders.push_back(r);
  return p;
}

std::string Partners::table(const std::vector<int>& node_of_rank,
                            const std::vector<std::string>& hosts) {
  const auto nodes = ranks_by_node(node_of_rank);
  if (nodes.size() < 2) return "";
  std::string out;
  for (int r = 0; r < static_cast<int>(node_of_rank.size()); ++r) {
    const int p = partner_of(r, nodes);
    out += "  rank " + std::to_string(r) + " (" + hosts[static_cast<std::size_t>(r)] +
           ") -> rank " + std::to_string(p) + " (" + hosts[static_cast<std::size_t>(p)] + ")\n";
  }
  return out;
}

LocalLevel::LocalLevel(std::unique_ptr<LocalStore> store, MPI_Comm world,
                       const std::vector<int>& node_of_rank, comm::StallPolicy stall)
    : store_(std::move(store)), stall_(stall) {
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, world, &rank_);
  mpi_call("MPI_Comm_dup (node-local checkpoints)", MPI_Comm_dup, world, &comm_);
  partners_ = Partners::of(rank_, node_of_rank);
  incoming_.resize(partners_.senders.size());
  for (std::size_t i = 0; i < incoming_.size(); ++i) {
    incoming_[i].from = partners_.senders[i];
    post_header_receive(incoming_[i]);
  }
  writer_ = std::thread([this] { writer_loop(); });
}

LocalLevel::~LocalLevel() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  MpiLock lock(mpi_mutex());
  for (auto& in : incoming_) {
    if (in.request != MPI_REQUEST_NULL) {
      MPI_Cancel(&in.request);
      MPI_Wait(&in.request, MPI_STATUS_IGNORE);
    }
  }
  // Sends still under way (a job ending on an error, its partner perhaps gone) keep the
  // communicator; finish() completes them on every normal end.
  if (sends_.empty() && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void LocalLevel::post_header_receive(Incoming& in) {
  in.receiving_bytes = false;
  mpi_call("MPI_Irecv (a partner's checkpoint part)", MPI_Irecv, in.header, 4, MPI_INT64_T, in.from,
           kHeaderTag, comm_, &in.request);
}

void LocalLevel::enqueue(Write w) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(w));
  }
  cv_.notify_all();
}

void LocalLevel::writer_loop() {
  timeline::name_this_thread("local checkpoints");
  for (;;) {
    Write w;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      w = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
    }
    const double t0 = now_seconds();
    bool failed = false;
    try {
      TimelineSpan span("local checkpoint: write", "io", w.step);
      store_->write(w.step, w.writer, w.kind, w.writer != rank_, *w.bytes);
    } catch (const std::exception& e) {
      failed = true;
      std::fprintf(stderr,
                   "warning: [rank %d] node-local checkpoint of step %lld not kept here: %s; a "
                   "restore takes the partner's copy or the parallel file system's checkpoint\n",
                   rank_, static_cast<long long>(w.step), e.what());
    }
    std::lock_guard lock(mu_);
    stats_.write_seconds += now_seconds() - t0;
    stats_.write_errors += failed ? 1 : 0;
    writing_ = false;
    cv_.notify_all();
  }
}

void LocalLevel::reap_sends() {
  while (!sends_.empty()) {
    auto& r = sends_.front().requests;
    int flag = 0;
    mpi_call("MPI_Testall (checkpoint parts to the partner)", MPI_Testall,
             static_cast<int>(r.size()), r.data(), &flag, MPI_STATUSES_IGNORE);
    if (!flag) return;
    sends_.pop_front();
  }
}

// Only where every rank does the same (the end of the job): each keeps receiving meanwhile,
// or a part too large to go eagerly never finds its receive.
void LocalLevel::wait_sends() {
  stall_.wait_until(
      [&] {
        progress_incoming();
        reap_sends();
        return sends_.empty();
      },
      "sending node-local checkpoint parts to partner rank " + std::to_string(partners_.partner),
      [&] { return "rank " + std::to_string(partners_.partner); });
}

void LocalLevel::send_part(SendBatch& batch, int64_t step, const std::string& kind,
                           const std::shared_ptr<const std::vector<char>>& bytes) {
  if (bytes->size() > static_cast<std::size_t>(INT_MAX))
    throw Error("a checkpoint part of " + std::to_string(bytes->size()) +
                " bytes is too large to send");
  auto header = std::make_unique<std::array<int64_t, 4>>(
      std::array<int64_t, 4>{static_cast<int64_t>(bytes->size()), kind_index(kind), step, rank_});
  MPI_Request hr = MPI_REQUEST_NULL, br = MPI_REQUEST_NULL;
  mpi_call("MPI_Isend (checkpoint part to the partner)", MPI_Isend, header->data(), 4, MPI_INT64_T,
           partners_.partner, kHeaderTag, comm_, &hr);
  mpi_call("MPI_Isend (checkpoint part to the partner)", MPI_Isend, bytes->data(),
           static_cast<int>(bytes->size()), MPI_BYTE, partners_.partner, kBytesTag, comm_, &br);
  ++unconfirmed_[step];
  batch.requests.push_back(hr);
  batch.requests.push_back(br);
  batch.buffers.push_back(bytes);
  batch.headers.push_back(std::move(header));
}

void LocalLevel::save(int64_t step, std::vector<Part> parts) {
  const double t0 = now_seconds();
  TimelineSpan span("local checkpoint: save", "io", step);
  reap_sends();
  const bool copy = partners_.partner >= 0 && sends_.size() < kBatchesInFlight;
  SendBatch batch;
  double saved_bytes = 0;
  for (auto& p : parts) {
    auto bytes = std::make_shared<const std::vector<char>>(encode(p.part));
    saved_bytes += static_cast<double>(bytes->size());
    enqueue({step, rank_, p.kind, bytes});
    if (copy) send_part(batch, step, p.kind, bytes);
  }
  if (partners_.partner >= 0) send_marker(batch, kStepSent, step);
  if (!batch.requests.empty()) sends_.push_back(std::move(batch));
  saved_[1] = saved_[0];
  saved_[0] = step;
  std::lock_guard lock(mu_);
  stats_.bytes_saved += saved_bytes;
  ++stats_.saves;
  stats_.copies_skipped += (partners_.partner >= 0 && !copy) ? 1 : 0;
  stats_.save_seconds += now_seconds() - t0;
}

void LocalLevel::progress_incoming() {
  for (auto& in : incoming_) {
    while (!in.done && in.request != MPI_REQUEST_NULL) {
      int flag = 0;
      mpi_call("MPI_Test (a partner's checkpoint part)", MPI_Test, &in.request, &flag,
               MPI_STATUS_IGNORE);
      if (!flag) break;
      if (!in.receiving_bytes) {
        if (in.header[0] == kStepSent) {
          in.whole_step = in.header[2];
          post_header_receive(in);
          continue;
        }
        if (in.header[0] == kSenderDone) {
          in.done = true;  // the sender has finished
          break;
        }
        in.bytes.resize(static_cast<std::size_t>(in.header[0]));
        in.receiving_bytes = true;
        mpi_call("MPI_Irecv (a partner's checkpoint part)", MPI_Irecv, in.bytes.data(),
                 static_cast<int>(in.bytes.size()), MPI_BYTE, in.from, kBytesTag, comm_,
                 &in.request);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        ++stats_.copies_received;
        stats_.bytes_received += static_cast<double>(in.bytes.size());
      }
      confirm(in);
      enqueue({in.header[2], static_cast<int>(in.header[3]), kKinds[in.header[1] == 1 ? 1 : 0],
               std::make_shared<const std::vector<char>>(std::move(in.bytes))});
      in.bytes = {};
      post_header_receive(in);
    }
  }
}

// The sender's copy is in this rank's hands (the write follows on the writer thread, long
// before this process could be stopped by a relaunch).
void LocalLevel::confirm(const Incoming& in) {
  auto c = std::make_unique<Confirmation>();
  c->message = {in.header[2], in.header[1]};
  mpi_call("MPI_Isend (a checkpoint part received)", MPI_Isend, c->message.data(), 2, MPI_INT64_T,
           in.from, kConfirmTag, comm_, &c->request);
  confirmations_.push_back(std::move(c));
}

void LocalLevel::take_confirmations() {
  if (partners_.partner < 0) return;  // one node: nothing sent, nothing to confirm
  while (!confirmations_.empty()) {
    int flag = 0;
    mpi_call("MPI_Test (a checkpoint part received)", MPI_Test, &confirmations_.front()->request,
             &flag, MPI_STATUS_IGNORE);
    if (!flag) break;
    confirmations_.pop_front();
  }
  for (;;) {
    int flag = 0;
    mpi_call("MPI_Iprobe (the partner's confirmations)", MPI_Iprobe, partners_.partner, kConfirmTag,
             comm_, &flag, MPI_STATUS_IGNORE);
    if (!flag) return;
    std::array<int64_t, 2> message{};
    mpi_call("MPI_Recv (the partner's confirmation)", MPI_Recv, message.data(), 2, MPI_INT64_T,
             partners_.partner, kConfirmTag, comm_, MPI_STATUS_IGNORE);
    if (auto it = unconfirmed_.find(message[0]); it != unconfirmed_.end() && --it->second <= 0)
      unconfirmed_.erase(it);
  }
}

bool LocalLevel::copies_pending_before(int64_t step) const {
  return !unconfirmed_.empty() && unconfirmed_.begin()->first < step;
}

// Every sender has sent all its parts of the newest step before `step` this rank saved (in
// sync every rank saves at the same steps).
bool LocalLevel::exchange_done_before(int64_t step) const {
  return !copies_pending_before(step) && senders_behind(step).empty();
}

// The senders whose parts of the newest step before `step` this rank saved have not all come.
std::vector<int> LocalLevel::senders_behind(int64_t step) const {
  const int64_t saved = saved_[0] < step ? saved_[0] : saved_[1];
  std::vector<int> behind;
  for (const auto& in : incoming_)
    if (!in.done && in.whole_step < saved) behind.push_back(in.from);
  return behind;
}

void LocalLevel::poll(int64_t completed_step) {
  progress_incoming();
  reap_sends();
  take_confirmations();
  if (wait_for_copies_ && completed_step >= 0 && !exchange_done_before(completed_step)) {
    const double t0 = now_seconds();
    TimelineSpan span("local checkpoint: wait for the partner's copy", "wait", completed_step);
    stall_.wait_until(
        [&] {
          progress_incoming();
          reap_sends();
          take_confirmations();
          return exchange_done_before(completed_step);
        },
        "exchanging node-local checkpoint copies with partner ranks before step " +
            std::to_string(completed_step),
        [&] {
          std::vector<int> ranks = senders_behind(completed_step);
          if (copies_pending_before(completed_step)) ranks.push_back(partners_.partner);
          return "ranks " + comm::rank_list(ranks);
        });
    std::lock_guard lock(mu_);
    stats_.copy_wait_seconds += now_seconds() - t0;
  }
  if (completed_step >= 0) {
    if (first_step_ < 0) first_step_ = completed_step - 1;
    store_->record_reached(rank_, completed_step, interval());
  }
}

// The interval planned, else the steps between the last two saves (or from this run's start
// to its first save).
int64_t LocalLevel::interval() const {
  if (planned_ > 0) return planned_;
  if (saved_[0] < 0) return -1;
  const int64_t before = saved_[1] >= 0 ? saved_[1] : first_step_;
  return before >= 0 ? saved_[0] - before : -1;
}

// A header without bytes (kSenderDone, kStepSent).
void LocalLevel::send_marker(SendBatch& batch, int64_t code, int64_t step) {
  auto header =
      std::make_unique<std::array<int64_t, 4>>(std::array<int64_t, 4>{code, 0, step, rank_});
  MPI_Request r = MPI_REQUEST_NULL;
  mpi_call("MPI_Isend (end of checkpoint parts)", MPI_Isend, header->data(), 4, MPI_INT64_T,
           partners_.partner, kHeaderTag, comm_, &r);
  batch.requests.push_back(r);
  batch.headers.push_back(std::move(header));
}

void LocalLevel::send_end() {
  if (partners_.partner < 0) return;
  SendBatch batch;
  send_marker(batch, kSenderDone, 0);
  sends_.push_back(std::move(batch));
}

void LocalLevel::finish(bool keep) {
  const Stats st = stats();
  if (st.copies_skipped > 0)
    std::printf(
        "note: [rank %d] %d of %d node-local checkpoints kept no partner copy (the "
        "partner had not yet taken the two before)\n",
        rank_, st.copies_skipped, st.saves);
  send_end();
  stall_.wait_until(
      [&] {
        progress_incoming();
        return std::all_of(incoming_.begin(), incoming_.end(),
                           [](const Incoming& in) { return in.done; });
      },
      "receiving the last node-local checkpoint parts from partner ranks",
      [&] {
        std::vector<int> ranks;
        for (const auto& in : incoming_)
          if (!in.done) ranks.push_back(in.from);
        return "ranks " + comm::rank_list(ranks);
      });
  wait_sends();
  if (partners_.partner >= 0) {
    stall_.wait_until(
        [&] {
          progress_incoming();
          take_confirmations();
          return unconfirmed_.empty() && confirmations_.empty();
        },
        "exchanging the last confirmations of node-local checkpoint parts with partner rank " +
            std::to_string(partners_.partner),
        [&] { return "rank " + std::to_string(partners_.partner); });
  }
  settle();
  // Whether some rank keeps the files, and the most any node holds.
  double mine[2] = {keep ? 1.0 : 0.0, static_cast<double>(store_->bytes_used())}, most[2] = {};
  MPI_Request all = MPI_REQUEST_NULL;
  mpi_call("MPI_Iallreduce (node-local checkpoints kept?)", MPI_Iallreduce, mine, most, 2,
           MPI_DOUBLE, MPI_MAX, comm_, &all);
  stall_.wait(all, "every rank done with its node-local checkpoints",
              [] { return std::string("a rank still training"); });
  if (rank_ == 0) print_usage(most[1], most[0] > 0);
  if (most[0] == 0) store_->remove_all();
}

// On tmpfs (/dev/shm) the store is node memory: how much it held, and what it cost.
void LocalLevel::print_usage(double most_bytes, bool kept) const {
  const Stats st = stats();
  const double saves = std::max(1, st.saves);
  std::printf(
      "node-local checkpoints: %d taken; %.1f MB on the fullest node at the end (each rank's "
      "parts of its newest steps and its partner's copies); rank 0: %.1f ms to save, %.1f ms "
      "to write, %.1f ms waiting for its partner's confirmation, per checkpoint; %s\n",
      st.saves, most_bytes / 1e6, 1e3 * st.save_seconds / saves, 1e3 * st.write_seconds / saves,
      1e3 * st.copy_wait_seconds / saves,
      kept ? "kept (the job stopped without --model-dir: they are all it has)" : "removed");
  std::fflush(stdout);
}

double LocalLevel::settle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !writing_; });
  return stats_.saves > 0 ? (stats_.write_seconds + stats_.copy_wait_seconds) / stats_.saves : 0.0;
}

LocalLevel::Stats LocalLevel::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace dtrain::train
