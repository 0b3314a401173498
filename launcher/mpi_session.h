// The MPI side of the launcher (DESIGN.md "Process model"): this file and mpi_session.cpp are the
// only ones that include <mpi.h>. Messages are tagged byte strings between rank 0 (the
// coordinator) and the workers; nothing here knows what a trial is.
#pragma once

#include <memory>
#include <string>

namespace trm::launcher {

// True when this process was started by mpirun/mpiexec or by srun with PMIx: only then is MPI
// initialised, so that a plain `trm-sweep run` needs no MPI runtime at all.
bool launched_under_mpi();

// The rank the launcher gave this process, read from its environment before MPI_Init
// (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK); -1 outside an MPI launch. Mistakes found before
// MPI starts (the command line, its options) are the same on every rank: only rank 0 says them.
int launcher_rank();

enum class Tag : int {
  ready = 1,      // worker -> coordinator: idle, give me a trial (payload: host, device)
  heartbeat = 2,  // worker -> coordinator: still alive
  metrics = 3,    // worker -> coordinator: trial index, then metrics.jsonl lines
  end = 4,        // worker -> coordinator: trial index and its outcome
  assign = 10,    // coordinator -> worker: a trial to run
  stop = 11,      // coordinator -> worker: checkpoint and stop the running trial
  kill = 12,      // coordinator -> worker: end the running trial at once
  exit = 13,      // coordinator -> worker: no more work, leave
};

struct Message {
  int source = -1;
  Tag tag = Tag::ready;
  std::string payload;
};

// Where this rank sits on its node, among the ranks that run trials there.
struct NodeShare {
  int ranks_on_node = 1;    // all ranks of this node
  int runners_on_node = 1;  // ranks of this node that run trials
  int runner_index = 0;     // this rank's index among them (-1 when it runs none)
};

class MpiSession {
 public:
  MpiSession();   // MPI_Init; throws InternalError when MPI cannot start
  ~MpiSession();  // MPI_Finalize, unless abort() was called
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  std::string library_version() const;

  // Collective: every rank calls it once, saying whether it runs trials.
  NodeShare node_share(bool runs_trials) const;

  // Sends without waiting for the receiver (the buffer is kept until MPI is done with it).
  void send(int dest, Tag tag, std::string payload);
  // The next message from any rank, if one has arrived. Also completes finished sends.
  bool poll(Message* message);
  // Waits until every send of this rank has completed.
  void flush_sends();
  // Ends every rank of the job with `code` (for ranks that can no longer be reached).
  [[noreturn]] void abort(int code);

 private:
  struct Pending;
  int rank_ = 0;
  int size_ = 1;
  std::unique_ptr<Pending> pending_;
};

}  // namespace trm::launcher
