#include "eval/ground_truth.h"

#include <cmath>

#include "core/error.h"
#include "shapeworld/caption.h"

namespace dreamdpo::eval {

namespace {
constexpr double kMaskLevel = 0.5;

// Integer pixel shift that moves the centroid of `mask` [H,W] (bool) to `target` (row, col).
at::Tensor centred(const at::Tensor& mask, double target_row, double target_col) {
  const auto rows = at::arange(mask.size(0), at::kDouble).view({-1, 1});
  const auto cols = at::arange(mask.size(1), at::kDouble).view({1, -1});
  const auto weight = mask.to(at::kDouble);
  const double total = weight.sum().item<double>();
  if (total <= 0) return mask;
  const double row = (weight * rows).sum().item<double>() / total;
  const double col = (weight * cols).sum().item<double>() / total;
  return at::roll(mask, {static_cast<int64_t>(std::lround(target_row - row)),
                         static_cast<int64_t>(std::lround(target_col - col))},
                  {0, 1});
}
}  // namespace

std::optional<shapeworld::SceneSpec> single_object_spec(const std::string& prompt) {
  try {
    auto spec = shapeworld::parse_caption(prompt);
    if (spec.groups.size() == 1 && spec.groups[0].count == 1) return spec;
  } catch (const Error&) {
  }
  return std::nullopt;
}

GroundTruthAgreement compare_with_ground_truth(const at::Tensor& rgb, const at::Tensor& alpha,
                                               const at::Tensor& truth_rgb, const at::Tensor& truth_alpha,
                                               shapeworld::Colour expected) {
  check(rgb.dim() == 4 && rgb.sizes() == truth_rgb.sizes() && alpha.size(0) == rgb.size(0) &&
            alpha.sizes() == truth_alpha.sizes(),
        "ground truth comparison: renders ", rgb.sizes(), "/", alpha.sizes(), " and truth ", truth_rgb.sizes(), "/",
        truth_alpha.sizes(), " must match");
  const auto x = rgb.detach().cpu().to(at::kDouble), xa = alpha.detach().cpu().to(at::kDouble);
  const auto y = truth_rgb.detach().cpu().to(at::kDouble), ya = truth_alpha.detach().cpu().to(at::kDouble);
  GroundTruthAgreement out;
  double iou_sum = 0;
  const int64_t views = x.size(0);
  for (int64_t v = 0; v < views; ++v) {
    const auto truth = ya[v][0] > kMaskLevel;
    const auto drawn = xa[v][0] > kMaskLevel;
    const auto weight = truth.to(at::kDouble);
    const double total = weight.sum().item<double>();
    at::Tensor aligned = drawn;
    if (total > 0) {
      const double row = (weight * at::arange(truth.size(0), at::kDouble).view({-1, 1})).sum().item<double>() / total;
      const double col = (weight * at::arange(truth.size(1), at::kDouble).view({1, -1})).sum().item<double>() / total;
      aligned = centred(drawn, row, col);
    }
    const double intersection = (aligned & truth).sum().item<double>();
    const double uni = (aligned | truth).sum().item<double>();
    iou_sum += uni > 0 ? intersection / uni : 1.0;
  }
  out.silhouette_iou = iou_sum / static_cast<double>(views);

  // Mean object colours over all views. The renders are composited over white: a pixel of
  // coverage a holds a*c + (1-a), so sum(pixel - (1-a)) / sum(a) over the mask is the
  // coverage-weighted mean of the object's own colour c. Averaging the composited pixels
  // instead pulls half-transparent (Gaussian) objects towards white: a black one read as grey.
  auto mean_colour = [](const at::Tensor& images, const at::Tensor& a) {
    const auto mask = (a > kMaskLevel).to(at::kDouble);
    const double coverage = (a * mask).sum().item<double>();
    if (coverage <= 0) return at::Tensor();
    return ((images - (1 - a)) * mask).sum({0, 2, 3}) / coverage;  // [3]
  };
  const auto drawn_colour = mean_colour(x, xa);
  const auto truth_colour = mean_colour(y, ya);
  if (!drawn_colour.defined() || !truth_colour.defined()) {
    out.colour_error = NAN;
    out.colour_correct = false;
    return out;
  }
  out.colour_error = (drawn_colour - truth_colour).pow(2).mean().sqrt().item<double>();
  // The palette under the ground truth's shading: each colour scaled by the factor that maps
  // the expected colour onto the truth's mean colour (least squares), so shading does not
  // decide the colour point.
  const auto expected_rgb = shapeworld::colour_rgb(expected);
  const auto e = at::tensor(std::vector<double>(expected_rgb.begin(), expected_rgb.end()), at::kDouble);
  const double norm = e.dot(e).item<double>();
  const double shading = norm > 1e-9 ? (truth_colour.dot(e) / norm).item<double>() : 0.75;
  double best = INFINITY;
  for (auto colour : shapeworld::kColours) {
    const auto c = shapeworld::colour_rgb(colour);
    const auto candidate = at::tensor(std::vector<double>(c.begin(), c.end()), at::kDouble) * shading;
    const double distance = (candidate - drawn_colour).pow(2).sum().item<double>();
    if (distance < best) {
      best = distance;
      out.colour_correct = colour == expected;
    }
  }
  return out;
}

}  // namespace dreamdpo::eval
