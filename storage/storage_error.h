// The error a user or the environment causes around a results file (missing, foreign, damaged,
// unwritable, disk full): the message names the path, what is wrong and how to fix it.
#pragma once

#include "core/errors.h"

namespace trm::storage {

class StorageError : public UserError {
 public:
  using UserError::UserError;
};

}  // namespace trm::storage
