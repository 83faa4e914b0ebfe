#include "camera/mvdream_camera.h"

#include "core/error.h"

namespace dreamdpo::camera {

at::Tensor mvdream_camera(const at::Tensor& c2w) {
  check(c2w.dim() == 3 && c2w.size(1) == 4 && c2w.size(2) == 4, "MVDream camera: expected c2w [N,4,4], got ",
        c2w.sizes());
  const auto y_up_to_z_up =
      at::tensor({1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0},
                 c2w.options().dtype(at::kDouble))
          .reshape({1, 4, 4});
  auto m = at::matmul(y_up_to_z_up, c2w.to(at::kDouble));
  const auto translation = m.slice(1, 0, 3).select(2, 3);  // [N,3]
  const auto unit = translation / (translation.norm(2, {1}, true) + 1e-8);
  m = m.clone();
  m.slice(1, 0, 3).select(2, 3).copy_(unit);
  return m.reshape({c2w.size(0), 16}).to(c2w.scalar_type());
}

}  // namespace dreamdpo::camera
