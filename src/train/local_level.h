// LocalLevel: this rank's side of the node-local checkpoint level while a job trains (SCR's
// idea: checkpoints in node memory or on a local disk, with a copy on a partner node, flushed
// to the parallel file system only now and then).
//
// save() takes this rank's parts of a step (the caller copied them out of training at a step
// every rank agreed on); a background thread writes them to this node's LocalStore, and they
// are sent to this rank's partner: the same local rank on the next node, which writes them to
// its own store. So one node lost never loses a part. The transfers are non-blocking MPI
// messages that poll(), called every step, drives on; a rank's next save waits for its last
// transfer. A part that cannot be written (a full or missing store) is reported by name and
// training goes on: the restore then takes the partner's copy or the parallel file system's
// checkpoint.
#pragma once

#include <mpi.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/stall.h"
#include "train/local_store.h"

namespace dtrain::train {

// Who copies whose parts: rank r's partner is the rank with r's index on its node, on the next
// node (wrapping; fewer ranks there: that index modulo their count). One node: no partners.
struct Partners {
  int partner = -1;          // where this rank's parts go; -1 with one node
  std::vector<int> senders;  // the ranks whose partner this rank is
  static Partners of(int rank, const std::vector<int>& node_of_rank);
  // One line per rank: "rank 0 (h1) -> rank 1 (h2)".
  static std::string table(const std::vector<int>& node_of_rank,
                           const std::vector<std::string>& hosts);
};

class LocalLevel {
 public:
  // Collective over `world` (it duplicates it for the transfers).
  LocalLevel(std::unique_ptr<LocalStore> store, MPI_Comm world,
             const std::vector<int>& node_of_rank, comm::StallPolicy stall);
  ~LocalLevel();
  LocalLevel(const LocalLevel&) = delete;
  LocalLevel& operator=(const LocalLevel&) = delete;

  // This rank's parts of `step`, each with its kind ("state", "params").
  struct Part {
    std::string kind;
    CheckpointPart part;
  };
  void save(int64_t step, std::vector<Part> parts);
  // Drives the partner transfers; records the step this rank has completed (if >= 0). With
  // wait_for_copies(), it first waits until the partner has confirmed every part of the saves
  // before `completed_step`: a step is then whole on two nodes by the end of the step after
  // it, so a lost node costs at most the interval. The partner waits there too, until it has
  // every part of that step (else it could go on into a collective without confirming). Only
  // where every rank saves at the same steps and polls after every step with no wait on
  // another rank in between (sync); servers and workers of an async job wait on each other
  // elsewhere and never wait here.
  void poll(int64_t completed_step = -1);
  void wait_for_copies() { wait_for_copies_ = true; }
  // The interval in effect as the rank that schedules the checkpoints plans it (the steps from
  // its last checkpoint to the next): recorded with each step in place of the spacing of the
  // last two saves, which trails a changed interval by one checkpoint.
  void plan(int64_t every) { planned_ = every; }
  // Collective: every transfer ends and every write lands; then, unless some rank asks to
  // `keep` them, the job's node-local files are removed on every node (a finished job leaves
  // none).
  void finish(bool keep);

  // Waits until every part handed to the writer is written; the mean time a save cost in the
  // background (its writing, and the wait for its partner's confirmation).
  double settle();
  int partner() const { return partners_.partner; }
  const LocalStore& store() const { return *store_; }
  struct Stats {
    int saves = 0, copies_received = 0, copies_skipped = 0, write_errors = 0;
    double save_seconds = 0;       // on the caller's thread: encoding and posting
    double copy_wait_seconds = 0;  // in poll(), for the partner's confirmations
    double write_seconds = 0;      // on the writer thread
    double bytes_saved = 0;        // this rank's parts
    double bytes_received = 0;     // partner copies
  };
  Stats stats() const;

 private:
  struct Write {
    int64_t step = 0;
    int writer = 0;
    std::string kind;
    std::shared_ptr<const std::vector<char>> bytes;
  };
  struct Incoming {
    int from = -1;
    // bytes (or kSenderDone, kStepSent: see local_level.cpp), kind, step, writer
    int64_t header[4] = {0, 0, 0, 0};
    int64_t whole_step = -1;  // the newest step whose parts have all arrived
    std::vector<char> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
    bool receiving_bytes = false;
    bool done = false;
  };
  // Outgoing, oldest first: a save's messages, whose buffers stay alive until they complete.
  struct SendBatch {
    std::vector<MPI_Request> requests;
    std::vector<std::shared_ptr<const std::vector<char>>> buffers;
    std::vector<std::unique_ptr<std::array<int64_t, 4>>> headers;
  };
  // A save never waits for the partner (which may itself wait on this rank in a collective):
  // with this many saves' copies still in flight, the next save keeps its parts here only.
  static constexpr std::size_t kBatchesInFlight = 2;
  void enqueue(Write w);
  void writer_loop();
  void post_header_receive(Incoming& in);
  void progress_incoming();
  void reap_sends();
  void wait_sends();
  void confirm(const Incoming& in);
  void take_confirmations();
  bool copies_pending_before(int64_t step) const;
  bool exchange_done_before(int64_t step) const;
  std::vector<int> senders_behind(int64_t step) const;
  void send_marker(SendBatch& batch, int64_t code, int64_t step);
  void send_part(SendBatch& batch, int64_t step, const std::string& kind,
                 const std::shared_ptr<const std::vector<char>>& bytes);
  void send_end();
  void print_usage(double most_bytes, bool kept) const;
  int64_t interval() const;

  std::unique_ptr<LocalStore> store_;
  int rank_ = 0;
  Partners partners_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  comm::StallPolicy stall_;
  std::deque<SendBatch> sends_;
  // Parts sent whose partner has not yet confirmed them, by step; confirmations this rank
  // sends its senders (kept alive until they complete).
  std::map<int64_t, int> unconfirmed_;
  struct Confirmation {
    std::array<int64_t, 2> message{};  // step, kind
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::deque<std::unique_ptr<Confirmation>> confirmations_;
  bool wait_for_copies_ = false;
  int64_t saved_[2] = {-1, -1};     // this rank's last two saved steps, newest first
  int64_t first_step_ = -1;         // the step this run started from (as poll() first learns it)
  int64_t planned_ = -1;            // plan(): the interval in effect, where this rank plans it
  std::vector<Incoming> incoming_;  // one per sender, sized once: MPI holds their addresses
  // The writer thread.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Write> queue_;
  bool stop_ = false, writing_ = false;
  Stats stats_;
  std::thread writer_;
};

}  // namespace dtrain::train
