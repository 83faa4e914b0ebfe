// Agreement of a generated object with ShapeWorld's ground truth, for single-object prompts:
// silhouette IoU after aligning the silhouettes' centroids (the generator may place the object
// anywhere near the origin) and the error of the object's mean colour, plus the "colour point":
// whether that mean colour is nearest to the prompt's colour among the whole palette.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "camera/camera.h"
#include "shapeworld/scene_spec.h"

namespace dreamdpo::eval {

struct GroundTruthAgreement {
  double silhouette_iou = 0;  // mean over views, in [0, 1]
  double colour_error = 0;    // RMS over RGB of the mean object colours (NaN if nothing was drawn)
  bool colour_correct = false;
};

// The spec of a prompt with one object and no relation; nullopt for anything else (including
// prompts that are not ShapeWorld captions).
std::optional<shapeworld::SceneSpec> single_object_spec(const std::string& prompt);

// rgb [V,3,H,W] (composited over white), alpha [V,1,H,W] of the generated object and of the
// ground truth, same cameras; `expected` is the prompt's colour.
GroundTruthAgreement compare_with_ground_truth(const at::Tensor& rgb, const at::Tensor& alpha,
                                               const at::Tensor& truth_rgb, const at::Tensor& truth_alpha,
                                               shapeworld::Colour expected);

}  // namespace dreamdpo::eval
