// A cloud of 3D Gaussians (3DGS parameterisation). The raw parameters are leaf tensors that
// require grad; the accessors apply the activations the rasterizer expects (exp scales,
// normalised quaternions, sigmoid opacities, SH DC -> colour).
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/rng.h"

namespace dreamdpo::scene {

// Zeroth-order real spherical harmonic: colour = 0.5 + kShC0 * sh_dc.
constexpr double kShC0 = 0.28209479177387814;

struct GaussiansConfig {
  std::string init = "ball";     // ball | shell | path to a 3DGS .ply (coarse-to-fine)
  int64_t count = 4096;          // number of Gaussians at initialisation
  double radius = 0.5;           // positions uniform in the volume of this sphere
  double initial_scale = 0.02;   // isotropic standard deviation (world units)
  double initial_opacity = 0.1;  // in (0, 1)
  int64_t sh_degree = 0;         // 0..3; higher bands start at zero

  template <class V>
  void visit(V& v) {
    v("init", init, "ball (uniform in the sphere), shell (on its surface) or a .ply of Gaussians to start from");
    v("count", count, "number of Gaussians at initialisation (>= 1)");
    v("radius", radius, "radius of the initialisation sphere (> 0)");
    v("initial_scale", initial_scale, "initial isotropic scale (> 0)");
    v("initial_opacity", initial_opacity, "initial opacity in (0, 1)");
    v("sh_degree", sh_degree, "spherical-harmonics degree 0..3");
  }
  void validate(const std::string& path) const;
};

// Rotation matrices [N,3,3] of unit quaternions [N,4] (wxyz), differentiable.
at::Tensor rotation_matrices(const at::Tensor& unit_quaternions);

class GaussianCloud {
 public:
  GaussianCloud() = default;
  // Random positions uniform in a ball (init "ball") or on its surface ("shell"), random
  // colours, identity rotations. (A .ply init is loaded by the caller with from_state.)
  GaussianCloud(const GaussiansConfig& config, core::Rng& rng, at::Device device = at::kCPU);

  // Keys "means", "log_scales", "rotations", "opacity_logits", "sh_dc", "sh_rest"; shapes
  // are checked; the tensors are copied and become leaves that require grad.
  static GaussianCloud from_state(const std::map<std::string, at::Tensor>& state);
  // Detached copies of every parameter under the keys above.
  std::map<std::string, at::Tensor> state() const;

  int64_t size() const { return means_.defined() ? means_.size(0) : 0; }
  int64_t sh_degree() const { return sh_degree_; }

  // Raw parameters (leaves, requires_grad), in the order of state() keys.
  std::vector<at::Tensor> parameters() const;
  // The state() keys, in parameters() order.
  static const std::vector<std::string>& parameter_keys();
  // The raw parameter under a state() key (throws for an unknown key); assignable, so the
  // optimiser and densifier can replace a group with new rows.
  at::Tensor& parameter(const std::string& key);
  at::Tensor& means() { return means_; }                    // [N,3]
  const at::Tensor& means() const { return means_; }
  at::Tensor& log_scales() { return log_scales_; }          // [N,3]
  at::Tensor& rotations() { return rotations_; }            // [N,4] wxyz, unnormalised
  at::Tensor& opacity_logits() { return opacity_logits_; }  // [N,1]
  at::Tensor& sh_dc() { return sh_dc_; }                    // [N,3]
  at::Tensor& sh_rest() { return sh_rest_; }                // [N,K,3], K = (degree+1)^2 - 1

  // Activated values, differentiable w.r.t. the parameters.
  at::Tensor scales() const;               // exp(log_scales) [N,3]
  at::Tensor normalised_rotations() const; // [N,4]
  at::Tensor opacities() const;            // sigmoid [N]
  at::Tensor colours() const;              // view-independent (DC band) [N,3], >= 0
  // View-dependent colours [B,N,3] for cameras at camera_positions [B,3]: the SH bands up to
  // sh_degree() evaluated at the direction camera -> Gaussian (3DGS convention), + 0.5,
  // clamped >= 0. Tensor ops, so autograd reaches sh_dc, sh_rest and means.
  at::Tensor view_colours(const at::Tensor& camera_positions) const;

 private:
  at::Tensor means_, log_scales_, rotations_, opacity_logits_, sh_dc_, sh_rest_;
  int64_t sh_degree_ = 0;
};

}  // namespace dreamdpo::scene
