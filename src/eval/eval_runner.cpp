#include "eval/eval_runner.h"

#include <ATen/core/grad_mode.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "camera/orbit.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/strings.h"
#include "eval/eval_report.h"
#include "eval/ground_truth.h"
#include "generate/checkpoint.h"
#include "generate/gaussian_views.h"
#include "generate/generate.h"
#include "shapeworld/caption.h"
#include "shapeworld/layout.h"
#include "shapeworld/renderer.h"
#include "shapeworld/sampler.h"

namespace dreamdpo::eval {
namespace fs = std::filesystem;

const std::vector<std::string>& eval_metric_names() {
  static const std::vector<std::string> names = {"judge_recognised", "judge_margin",  "reward",
                                                 "silhouette_iou",   "colour_error",  "colour_correct"};
  return names;
}

std::vector<std::string> eval_metric_names(const EvalScorers& scorers) {
  auto names = eval_metric_names();
  for (const auto& scorer : scorers.extra) {
    check(std::find(names.begin(), names.end(), scorer.name) == names.end(), "eval: scorer '", scorer.name,
          "' given twice or named like a built-in column");
    names.push_back(scorer.name);
  }
  return names;
}

std::vector<std::string> read_prompts(const fs::path& path) {
  std::istringstream in(core::read_file(path));
  std::vector<std::string> prompts;
  // A repeated prompt (or two that differ only in case or punctuation) would share one run
  // folder and count twice in the table.
  std::map<std::string, int> line_of_folder;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    prompts.push_back(line.substr(first, last - first + 1));
    const auto [it, fresh] = line_of_folder.emplace(core::slug(prompts.back(), 80, "prompt"), line_number);
    check(fresh, path.string(), ":", line_number, ": '", prompts.back(), "' repeats the prompt of line ", it->second,
          " (same run folder); remove one of them");
  }
  check(!prompts.empty(), path.string(), " holds no prompt (one per line; # starts a comment)");
  return prompts;
}

std::vector<Variant> method_variants(const std::vector<std::string>& methods) {
  std::vector<Variant> out;
  for (const auto& m : methods) {
    check(m == "sds" || m == "dreamdpo", "eval: unknown method '", m, "' (sds, dreamdpo)");
    out.push_back({m, {"guidance.method=" + m}});
  }
  return out;
}

std::vector<Variant> read_sweep(const fs::path& path) {
  const auto root = core::parse_yaml(core::read_file(path), path.string());
  check(root.IsMap() && root["variants"] && root["variants"].IsMap() && root["variants"].size() >= 1,
        path.string(), ": a sweep needs `variants:`, a map from names to {key: value} overrides");
  for (const auto& entry : root) {
    const auto key = entry.first.as<std::string>();
    check(key == "variants" || key == "description", path.string(), ": unknown key '", key,
          "' (a sweep has description and variants)");
  }
  std::vector<Variant> out;
  for (const auto& entry : root["variants"]) {
    Variant variant{entry.first.as<std::string>(), {}};
    check(entry.second.IsMap(), path.string(), ": variant '", variant.name, "' must map keys to values");
    for (const auto& setting : entry.second) {
      YAML::Emitter value;
      value << YAML::Flow << setting.second;
      variant.overrides.push_back(setting.first.as<std::string>() + "=" + value.c_str());
    }
    out.push_back(std::move(variant));
  }
  return out;
}

namespace {

std::string run_status(const fs::path& run) {
  if (!fs::exists(run / "run.json")) return "";
  try {
    return nlohmann::json::parse(core::read_file(run / "run.json")).value("status", "");
  } catch (const std::exception&) {
    return "";
  }
}

// Mean score per caption over the views: [captions].
std::vector<double> caption_scores(rank::Ranker& ranker, const at::Tensor& images,
                                   const std::vector<std::string>& captions) {
  std::vector<double> out;
  for (const auto& caption : captions) out.push_back(ranker.score(images, caption).mean().item<double>());
  return out;
}

}  // namespace

EvalSummary run_eval(const EvalOptions& options, const YAML::Node& base_config, const EvalScorers& scorers) {
  const auto prompts = read_prompts(options.prompts_file);
  check(!options.variants.empty(), "eval: give at least one method or sweep variant");
  check(options.seeds >= 1, "eval: --seeds must be >= 1");
  check(options.views >= 1 && options.size >= 8, "eval: views >= 1 and size >= 8 needed");
  // Every configuration must be valid before the first run starts.
  std::vector<generate::GenerateConfig> variant_configs;
  std::vector<std::string> names;
  for (const auto& variant : options.variants) {
    auto tree = YAML::Clone(base_config);
    for (const auto& assignment : variant.overrides) core::apply_override(tree, assignment);
    generate::GenerateConfig config;
    try {
      core::read_config(tree, config);
    } catch (const Error& e) {
      fail("eval: variant '", variant.name, "': ", e.what());
    }
    check(std::find(names.begin(), names.end(), variant.name) == names.end(), "eval: variant '", variant.name,
          "' appears twice");
    names.push_back(variant.name);
    variant_configs.push_back(config);
  }
  const auto metric_names = eval_metric_names(scorers);
  core::ensure_writable_directory(options.output_dir);

  const auto cams = camera::fixed_orbit(options.views, 15.0, 2.75, 45.0);
  std::vector<RunRecord> records;
  std::set<std::string> warned;
  EvalSummary summary;
  const int64_t total = static_cast<int64_t>(prompts.size() * options.variants.size()) * options.seeds;
  core::Progress progress("eval", total);
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto& prompt = prompts[p];
    for (size_t m = 0; m < options.variants.size(); ++m) {
      const auto& variant = names[m];
      for (int64_t s = 0; s < options.seeds; ++s) {
        const auto run = options.output_dir / "runs" / core::slug(prompt, 80, "prompt") / core::slug(variant, 80, "variant") / ("seed_" + std::to_string(s));
        auto config = variant_configs[m];
        config.seed += s;
        const auto start = std::chrono::steady_clock::now();
        const auto status = run_status(run);
        if (status == "finished") {
          ++summary.reused;
        } else if ((status == "interrupted" || status == "running") && !generate::list_checkpoints(run).empty()) {
          const auto result = generate::resume_generate(run);
          check(!result.interrupted, "eval: interrupted; run the same command again to continue");
          ++summary.generated;
        } else {
          fs::remove_all(run);  // an unusable partial run: start it again
          const auto result = generate::run_generate(prompt, config, run);
          check(!result.interrupted, "eval: interrupted; run the same command again to continue");
          ++summary.generated;
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        // Render the result from the evaluation cameras over white.
        const auto checkpoint = generate::load_latest_checkpoint(run);
        const auto cloud = scene::GaussianCloud::from_state(generate::strip_prefix("gaussians", checkpoint.tensors));
        at::Tensor rgb, alpha;
        {
          at::NoGradGuard no_grad;
          const auto out = generate::render_cloud(cloud, cams, options.size, at::ones({3}));
          rgb = out.rgb.clamp(0, 1).cpu();
          alpha = out.alpha.cpu();
        }
        std::map<std::string, double> metric;
        for (const auto& name : metric_names) metric[name] = NAN;
        // A scorer that cannot read the prompt (a word outside its vocabulary) leaves its
        // columns empty for that prompt; the eval goes on.
        auto scored = [&](const char* what, const std::function<void()>& score) {
          try {
            score();
          } catch (const Error& e) {
            if (warned.insert(std::string(what) + prompt).second) {
              core::log_warn("eval: no ", what, " score for '", prompt, "': ", e.what());
            }
          }
        };
        if (scorers.reward != nullptr) {
          scored("reward", [&] { metric["reward"] = scorers.reward->score(rgb, prompt).mean().item<double>(); });
        }
        for (const auto& extra : scorers.extra) {
          scored(extra.name.c_str(),
                 [&] { metric[extra.name] = extra.ranker->score(rgb, prompt).mean().item<double>(); });
        }
        std::optional<shapeworld::SceneSpec> spec;
        try {
          spec = shapeworld::parse_caption(prompt);
        } catch (const Error&) {
        }
        if (scorers.judge != nullptr && spec) {
          core::Rng rng(static_cast<uint64_t>(p) * 7919u + 17u);  // the same negatives for every method and seed
          std::vector<std::string> captions = {prompt};
          for (const auto& negative : shapeworld::hard_negatives(*spec, rng, scorers.negatives)) {
            captions.push_back(shapeworld::canonical_caption(negative));
          }
          scored("judge", [&] {
            const auto scores = caption_scores(*scorers.judge, rgb, captions);
            double best_negative = -INFINITY;
            for (size_t k = 1; k < scores.size(); ++k) best_negative = std::max(best_negative, scores[k]);
            metric["judge_recognised"] = scores[0] > best_negative ? 1.0 : 0.0;
            metric["judge_margin"] = scores[0] - best_negative;
          });
        }
        if (const auto single = single_object_spec(prompt)) {
          core::Rng rng(0);
          const auto truth = shapeworld::render_scene(shapeworld::layout(*single, rng), cams, options.size, options.size);
          const auto agreement = compare_with_ground_truth(rgb, alpha, truth.rgb, truth.alpha, single->groups[0].colour);
          metric["silhouette_iou"] = agreement.silhouette_iou;
          metric["colour_error"] = agreement.colour_error;
          metric["colour_correct"] = agreement.colour_correct ? 1.0 : 0.0;
        }
        records.push_back({prompt, variant, s, fs::relative(run, options.output_dir), seconds, metric});
        ++summary.runs;
        progress.update(summary.runs, prompt + " / " + variant);
        // The table is rewritten after every run, so an interrupted eval still leaves one.
        write_results_csv(options.output_dir / "results.csv", records, metric_names);
      }
    }
  }
  progress.finish();
  summary.results_csv = options.output_dir / "results.csv";
  const auto tables = write_eval_tables(options.output_dir, records, names, metric_names);
  summary.table_markdown = tables.markdown;
  summary.table_csv = tables.csv;
  summary.html = write_eval_html(options.output_dir, records, names, metric_names);
  core::log_info("eval: ", summary.runs, " runs (", summary.generated, " generated, ", summary.reused,
                 " reused) -> ", summary.table_markdown.string());
  return summary;
}

}  // namespace dreamdpo::eval
