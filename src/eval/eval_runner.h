// `dreamdpo eval`: every prompt x method x seed generated (resumable: finished runs are not
// redone, interrupted ones resume), rendered from fixed evaluation cameras and scored; then a
// table with 95% intervals (paired by prompt and seed) and an HTML page.
#pragma once
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "rank/ranker.h"

namespace dreamdpo::eval {

// One column of the comparison: a name and the config overrides ("key=value") that make it.
struct Variant {
  std::string name;
  std::vector<std::string> overrides;
};

// The variants of --methods sds,dreamdpo: guidance.method set to each.
std::vector<Variant> method_variants(const std::vector<std::string>& methods);
// A sweep file (configs/sweeps/*.yaml): `variants:` maps names to {key: value} overrides, in
// order; the first variant is the baseline the others are paired against.
std::vector<Variant> read_sweep(const std::filesystem::path& path);

struct EvalOptions {
  std::filesystem::path prompts_file;
  std::filesystem::path output_dir = "out/eval";
  std::vector<Variant> variants = method_variants({"sds", "dreamdpo"});
  int64_t seeds = 1;
  int64_t views = 8;   // evaluation cameras: evenly spaced at 15 degrees elevation
  int64_t size = 64;   // their resolution
};

// Models that judge the results. Either may be null (its columns are then empty). The judge is
// never used as a ranker during generation.
struct EvalScorers {
  rank::Ranker* reward = nullptr;
  rank::Ranker* judge = nullptr;
  int negatives = 8;  // hard-negative captions the judge must rank below the prompt
  // Further rankers (e.g. hpsv2, imagereward with real checkpoints): one column each, named
  // after the ranker, holding its mean score over the evaluation views.
  struct Named {
    std::string name;
    rank::Ranker* ranker;
  };
  std::vector<Named> extra;
};

struct EvalSummary {
  int64_t runs = 0, generated = 0, reused = 0;
  std::filesystem::path table_markdown, table_csv, results_csv, html;
};

// Prompts from a text file: one per line; blank lines and lines starting with # are skipped.
std::vector<std::string> read_prompts(const std::filesystem::path& path);

// base_config: the resolved generate configuration (preset, files, --set) shared by all runs;
// each run applies its variant's overrides and seed = base seed + seed index.
EvalSummary run_eval(const EvalOptions& options, const YAML::Node& base_config, const EvalScorers& scorers);

// The metric columns of results.csv, in order: the built-in ones, then one per extra scorer.
const std::vector<std::string>& eval_metric_names();
std::vector<std::string> eval_metric_names(const EvalScorers& scorers);

}  // namespace dreamdpo::eval
