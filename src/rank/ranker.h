// A ranker scores how well images match a prompt (higher is better). DreamDPO only uses the
// order and the gap between the two members of a pair.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace dreamdpo::rank {

class Ranker {
 public:
  virtual ~Ranker() = default;
  virtual std::string name() const = 0;
  // images [N,3,H,W] in [0,1] -> scores [N] (float, CPU or the images' device).
  virtual at::Tensor score(const at::Tensor& images, const std::string& prompt) = 0;
};

}  // namespace dreamdpo::rank
