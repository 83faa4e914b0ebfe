#include "generate/assets.h"

#include "camera/orbit.h"
#include "core/atomic_file.h"
#include "core/config.h"
#include "core/log.h"
#include "core/png_io.h"
#include "generate/gaussian_views.h"
#include "generate/report_html.h"

namespace dreamdpo::generate {
namespace fs = std::filesystem;

namespace {

// Exported renders look at the object from a fixed elevation at the middle of the training
// distance and field-of-view ranges, so they show what training saw.
camera::CameraBatch export_orbit(const GenerateConfig& config, int64_t views) {
  const auto& c = config.camera;
  return camera::fixed_orbit(views, 15.0, 0.5 * (c.distance[0] + c.distance[1]), 0.5 * (c.fovy_deg[0] + c.fovy_deg[1]));
}

}  // namespace

nlohmann::json write_assets(const fs::path& run_dir, const AssetInputs& in) {
  nlohmann::json written = nlohmann::json::object();
  const int64_t size = in.config.render.validation_size;
  std::vector<ReportImage> media;

  const auto views = render_cloud_images(in.cloud, export_orbit(in.config, in.config.output.validation_views), size,
                                         in.background);
  std::vector<at::Tensor> tiles;
  for (int64_t v = 0; v < views.size(0); ++v) tiles.push_back(views[v]);
  const auto views_png = core::encode_png(core::image_grid(tiles, std::min<int64_t>(views.size(0), 8)));
  core::write_file_atomic(run_dir / "views.png", views_png);
  written["views"] = "views.png";
  media.push_back({"views", "image/png", views_png});

  ReportInputs report;
  report.prompt = in.prompt;
  report.summary = {{"prompt", in.prompt},
                    {"method", in.config.guidance.method},
                    {"prior", in.config.prior.name},
                    {"ranker", in.config.ranker.name},
                    {"steps", in.config.steps},
                    {"seed", in.config.seed},
                    {"gaussians", in.cloud.size()}};
  report.config = core::config_to_json(in.config);
  report.metrics = &in.metrics;
  report.plotted_columns = {"loss", "grad_norm", "score_win", "gap", "lose_fired", "t", "gaussians", "step_ms"};
  report.media = std::move(media);
  core::write_file_atomic(run_dir / "report.html", render_report_html(report));
  written["report"] = "report.html";
  return written;
}

}  // namespace dreamdpo::generate
