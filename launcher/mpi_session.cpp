#include "launcher/mpi_session.h"

#include <mpi.h>

#include <cstdlib>
#include <list>

#include "core/errors.h"

namespace trm::launcher {

bool launched_under_mpi() {
  // OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE; srun --mpi=pmix sets PMIX_RANK; MPICH's Hydra
  // and PMI-2 launchers set PMI_RANK / PMI_SIZE.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    const long rank = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && rank >= 0) return static_cast<int>(rank);
  }
  return -1;
}

struct MpiSession::Pending {
  struct Send {
    std::string buffer;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::list<Send> sends;  // a list: a buffer must not move while MPI reads it
  bool aborted = false;

  void complete_finished() {
    for (auto it = sends.begin(); it != sends.end();) {
      int done = 0;
      MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
      it = done ? sends.erase(it) : std::next(it);
    }
  }
};

MpiSession::MpiSession() : pending_(std::make_unique<Pending>()) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized && MPI_Init(nullptr, nullptr) != MPI_SUCCESS) {
    throw InternalError("MPI_Init failed");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  if (pending_->aborted) return;
  flush_sends();
  MPI_Finalize();
}

std::string MpiSession::library_version() const {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string s(text, static_cast<size_t>(length));
  const auto nl = s.find_first_of("\n,");  // OpenMPI appends its release date and URL
  return nl == std::string::npos ? s : s.substr(0, nl);
}

NodeShare MpiSession::node_share(bool runs_trials) const {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  NodeShare share;
  MPI_Comm_size(node, &share.ranks_on_node);
  const int mine = runs_trials ? 1 : 0;
  int before = 0;
  MPI_Exscan(&mine, &before, 1, MPI_INT, MPI_SUM, node);
  int node_rank = 0;
  MPI_Comm_rank(node, &node_rank);
  if (node_rank == 0) before = 0;  // MPI_Exscan leaves rank 0's result undefined
  MPI_Allreduce(&mine, &share.runners_on_node, 1, MPI_INT, MPI_SUM, node);
  share.runner_index = runs_trials ? before : -1;
  MPI_Comm_free(&node);
  return share;
}

void MpiSession::send(int dest, Tag tag, std::string payload) {
  // Blocking: OpenMPI moves a nonblocking send only when the sender calls MPI again, and our
  // ranks sleep between polls, which made every message wait a poll period (~80 ms a trial).
  // It cannot deadlock: the coordinator always polls, and it sends a worker only small control
  // messages (eager: complete without the receiver) or a trial when that worker is idle.
  MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_CHAR, dest, static_cast<int>(tag),
           MPI_COMM_WORLD);
}

bool MpiSession::poll(Message* message) {
  pending_->complete_finished();
  int arrived = 0;
  MPI_Status status;
  MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
  if (!arrived) return false;
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  message->payload.assign(static_cast<size_t>(count), '\0');
  MPI_Recv(message->payload.data(), count, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG,
           MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  message->source = status.MPI_SOURCE;
  message->tag = static_cast<Tag>(status.MPI_TAG);
  return true;
}

void MpiSession::flush_sends() {
  for (auto& s : pending_->sends) MPI_Wait(&s.request, MPI_STATUS_IGNORE);
  pending_->sends.clear();
}

void MpiSession::abort(int code) {
  pending_->aborted = true;
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace trm::launcher
