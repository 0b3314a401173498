// Error types shared by every layer (torch-free): user/environment errors carry the values that
// matter and say how to fix them; internal_error marks a bug in trm-sweep itself (STYLE.md §8).
#pragma once

#include <stdexcept>
#include <string>

namespace trm {

// Base of every error a user can cause or fix (bad config, bad data, bad file, bad cluster).
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A config key, value or combination is invalid.
class ConfigError : public UserError {
 public:
  using UserError::UserError;
};

// A data set, fixture or checkpoint file is missing, unreadable or malformed.
class DataError : public UserError {
 public:
  using UserError::UserError;
};

// Work given up because a stop was asked for (a signal) before it could finish: not an error.
class Stopped : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bug: an invariant of trm-sweep's own code does not hold.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace trm
