#include "generate/assets.h"

#include "camera/orbit.h"
#include "core/atomic_file.h"
#include "core/config.h"
#include "core/log.h"
#include "core/png_io.h"
#include "export/animation.h"
#include "export/density_grid.h"
#include "export/gaussian_ply.h"
#include "export/marching_cubes.h"
#include "export/mesh_cleanup.h"
#include "export/mesh_gltf.h"
#include "export/mesh_obj.h"
#include "generate/gaussian_views.h"
#include "generate/report_html.h"

namespace dreamdpo::generate {
namespace fs = std::filesystem;

camera::CameraBatch export_cameras(const GenerateConfig& config, int64_t views) {
  const auto& c = config.camera;
  const double fovy = 0.5 * (c.fovy_deg[0] + c.fovy_deg[1]);
  return camera::fixed_orbit(views, 15.0, c.absolute_distance(0.5 * (c.distance[0] + c.distance[1]), fovy), fovy);
}

nlohmann::json write_assets(const fs::path& run_dir, const AssetInputs& in) {
  nlohmann::json written = nlohmann::json::object();
  const int64_t size = in.config.render.validation_size;
  std::vector<ReportImage> media;

  const auto views = render_cloud_images(in.cloud, export_cameras(in.config, in.config.output.validation_views), size,
                                         in.background);
  std::vector<at::Tensor> tiles;
  for (int64_t v = 0; v < views.size(0); ++v) tiles.push_back(views[v]);
  const auto views_png = core::encode_png(core::image_grid(tiles, std::min<int64_t>(views.size(0), 8)));
  core::write_file_atomic(run_dir / "views.png", views_png);
  written["views"] = "views.png";
  media.push_back({"views", "image/png", views_png});

  // Turntable: a full turn at the validation size.
  const auto turn = export_cameras(in.config, in.config.output.turntable_frames);
  const auto frames = render_cloud_images(in.cloud, turn, size, in.background);
  const auto turntable = exporters::write_turntable(run_dir / "turntable", frames,
                                                    static_cast<int>(in.config.output.turntable_fps));
  written["turntable"] = turntable.filename().string();
  const bool is_video = turntable.extension() == ".mp4";
  media.insert(media.begin(), {"turntable", is_video ? "video/mp4" : "image/png", core::read_file(turntable)});

  exporters::write_gaussian_ply(run_dir / "model.ply", in.cloud.state());
  written["gaussians"] = "model.ply";

  if (in.config.output.mesh) {
    exporters::DensityGridOptions grid_options;
    grid_options.resolution = in.config.output.mesh_resolution;
    const auto grid = exporters::sample_density_grid(in.cloud, grid_options);
    exporters::CleanupReport cleanup;
    const auto mesh = exporters::keep_large_components(
        exporters::extract_isosurface(grid.density, in.config.output.mesh_level, grid.box_min, grid.box_max,
                                      grid.colour),
        in.config.output.mesh_min_component, &cleanup);
    if (cleanup.removed > 0) {
      core::log_info("mesh: dropped ", cleanup.removed, " of ", cleanup.components, " pieces smaller than ",
                     in.config.output.mesh_min_component, " of the largest");
    }
    if (mesh.face_count() == 0) {
      // The Gaussians are too faint for a surface at this level: keep the run, say what to do.
      core::log_warn("mesh: the density never reaches output.mesh_level=", in.config.output.mesh_level,
                     " (max ", grid.density.max().item<double>(), "); no mesh written. Lower it with --set ",
                     "output.mesh_level=... and run dreamdpo export ", run_dir.string());
      written["mesh_skipped"] = "density below output.mesh_level";
    } else {
      exporters::write_glb(run_dir / "mesh.glb", mesh);
      exporters::write_obj(run_dir / "mesh.obj", mesh);
      written["mesh"] = "mesh.glb";
      written["mesh_obj"] = "mesh.obj";
    }
  }

  ReportInputs report;
  report.prompt = in.prompt;
  report.summary = {{"prompt", in.prompt},
                    {"method", in.config.guidance.method},
                    {"prior", in.config.prior.name},
                    {"ranker", in.config.ranker.name},
                    {"steps", in.config.steps},
                    {"seed", in.config.seed},
                    {"gaussians", in.cloud.size()},
                    {"files", written}};
  report.config = core::config_to_json(in.config);
  report.metrics = &in.metrics;
  report.plotted_columns = {"loss", "grad_norm", "score_win", "gap", "lose_fired", "t", "gaussians", "step_ms"};
  report.media = std::move(media);
  core::write_file_atomic(run_dir / "report.html", render_report_html(report));
  written["report"] = "report.html";
  return written;
}

}  // namespace dreamdpo::generate
