// A ranker scores how well images match a prompt (higher is better). DreamDPO only uses the
// order and the gap between the two members of a pair.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "core/error.h"

namespace dreamdpo::rank {

// Thrown by a ranker that could not judge this call (e.g. a remote model that stayed silent
// after its retries). It is not a user error: the caller falls back to another ranker for the
// step and counts it, and the run goes on.
class RankerUnavailable : public Error {
 public:
  using Error::Error;
};

class Ranker {
 public:
  virtual ~Ranker() = default;
  virtual std::string name() const = 0;
  // images [N,3,H,W] in [0,1] -> scores [N] (float, CPU or the images' device). May throw
  // RankerUnavailable for a transient failure.
  virtual at::Tensor score(const at::Tensor& images, const std::string& prompt) = 0;
};

}  // namespace dreamdpo::rank
