// The check of the shipped diffusion model, on a sample the CPU can afford (64 held-out
// scenes, about 3 minutes on 2 cores): its 50-step DDIM samples at CFG 7.5 must be judged
// correct at least 70% of the time, and stay close to what the same judge gives ground-truth
// renders of the same scenes. The full check (256 scenes) is in models/builtin/diffusion.md.
#include <gtest/gtest.h>

#include <iostream>

#include "guidance/priors/builtin_prior.h"
#include "models/builtin/judge.h"
#include "shapeworld/diffusion_eval.h"

namespace dreamdpo::shapeworld {
namespace {

TEST(ShippedDiffusion, SamplesAreJudgedCorrectOn64HeldOutScenes) {
  auto judge = models::Judge::load(guidance::builtin_model_path("judge.safetensors"));
  const auto report =
      judge_diffusion_file(guidance::builtin_model_path("diffusion.safetensors"), *judge, 64, 7.5, 0, at::kCPU);
  std::cout << report.summary() << "\n";
  ASSERT_EQ(report.scenes, 64);
  EXPECT_GE(report.judged_correct, 0.70);
  // The judge's own ceiling: samples may not be far below what real renders score.
  EXPECT_GE(report.judged_correct, report.reference_correct - 0.15);
  // The four views of one sample show one scene: mostly they pick the same caption.
  EXPECT_GE(report.view_agreement, 0.5);
}

}  // namespace
}  // namespace dreamdpo::shapeworld
