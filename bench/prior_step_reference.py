"""The DreamDPO step at MVDream scale in the reference Python stack, and the random full-size
weights that `dreamdpo generate --preset mvdream` loads for the same benchmark.

  python3 bench/prior_step_reference.py --mvdream MVDREAM_CHECKOUT --open-clip OPEN_CLIP_CHECKOUT \
      --weights DIR [--steps 20] [--json OUT.json]

1. Builds, with random weights (seed 0), MVDream's LatentDiffusionInterface for sd-v2.1-base-4view
   (MultiViewUNetModel + ldm AutoencoderKL, configs/sd-v2-base.yaml), OpenCLIP ViT-H-14 (its text
   tower is MVDream's FrozenOpenCLIPEmbedder; the whole model is the HPSv2 scorer), and writes
     DIR/mvdream_random.pt   raw state dict with ldm names, fp32 (like sd-v2.1-base-4view.pt)
     DIR/hpsv2_random.pt     {"state_dict": CLIP ViT-H-14} (like HPS_v2_compressed.pt)
2. Times the forward + backward of DreamDPO's MultiviewDiffusionGuidance
   (ZhenglinZhou/DreamDPO threestudio/models/guidance/mvdream_reward_guidance.py, restated below
   line by line without threestudio): rendered rgb [4,256,256,3] with requires_grad -> VAE encode
   with gradient (posterior sample) -> two noised copies -> ONE apply_model call on 16 latents
   (2 pair members x [cond, uncond] x 4 views, cameras) -> CFG -> x0 -> VAE decode of both members
   -> HPSv2 score of both (image and text towers, as DreamDPO calls it) -> win/lose mask -> the
   preference gradient -> loss -> backward to the rgb.
   Precision as the official run (lightning 16-mixed): fp32 weights under torch.autocast(fp16).
   A second row casts the networks to fp16 (what our fp16 prior does).
Attention: the official environment has xformers 0.0.16, whose memory_efficient_attention MVDream
calls; where xformers is not installed, an `xformers.ops` stand-in runs PyTorch's fused
scaled_dot_product_attention instead, so the reference is not penalised with the einsum path.

Imports go through the fixture scripts' shims (tests/fixtures): the network code is the
references' own, unmodified.
"""
import argparse
import contextlib
import importlib
import json
import math
import os
import statistics
import sys
import time
import types

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))

MVDREAM_SD21 = dict(image_size=32, in_channels=4, out_channels=4, model_channels=320, attention_resolutions=[4, 2, 1],
                    num_res_blocks=2, channel_mult=[1, 2, 4, 4], num_head_channels=64, use_spatial_transformer=True,
                    use_linear_in_transformer=True, transformer_depth=1, context_dim=1024, use_checkpoint=False,
                    legacy=False, camera_dim=16)
VAE_SD = dict(embed_dim=4, lossconfig={"target": "torch.nn.Identity"},
              ddconfig=dict(double_z=True, z_channels=4, resolution=256, in_channels=3, out_ch=3, ch=128,
                            ch_mult=[1, 2, 4, 4], num_res_blocks=2, attn_resolutions=[], dropout=0.0))
VIT_H_14 = dict(embed_dim=1024,
                vision_cfg=dict(image_size=224, layers=32, width=1280, head_width=80, patch_size=14),
                text_cfg=dict(context_length=77, vocab_size=49408, width=1024, heads=16, layers=24))
OPENAI_MEAN, OPENAI_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def install_xformers_stand_in():
    try:
        import xformers.ops  # noqa: F401
        return "xformers " + sys.modules["xformers"].__version__
    except ImportError:
        pass
    xformers = types.ModuleType("xformers")
    ops = types.ModuleType("xformers.ops")
    # MVDream passes [B*heads, tokens, head_dim]; SDPA takes any leading dims.
    ops.memory_efficient_attention = lambda q, k, v, attn_bias=None, op=None: F.scaled_dot_product_attention(q, k, v)
    xformers.ops, xformers.__version__ = ops, "stand-in"
    sys.modules.update({"xformers": xformers, "xformers.ops": ops})
    return "torch SDPA standing in for xformers.memory_efficient_attention"


def import_references(mvdream_root, open_clip_root):
    from make_unet_fixtures import _shim_mvdream_imports  # einops/omegaconf shims, package registration
    from make_clip_fixtures import import_package, install_shims
    _shim_mvdream_imports(mvdream_root)
    for package in ("mvdream.ldm.models",):
        module = types.ModuleType(package)
        module.__path__ = [os.path.join(mvdream_root, *package.split("."))]
        sys.modules[package] = module
    interface = importlib.import_module("mvdream.ldm.interface")
    camera_utils = importlib.import_module("mvdream.camera_utils")
    install_shims()
    import_package("open_clip", os.path.join(open_clip_root, "src", "open_clip"))
    oc_model = importlib.import_module("open_clip.model")
    return interface, camera_utils, oc_model


def fill_zero_weights(module, generator):
    """ldm zero-initialises output convolutions; random values instead, so no block is a no-op."""
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() > 1 and not p.any():
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator, device=p.device) * fan_in ** -0.5)


def build(interface, oc_model, device):
    torch.manual_seed(0)
    generator = torch.Generator(device=device).manual_seed(0)
    # Built on the GPU directly where torch supports it (initialising 2.3B parameters on the CPU is slow).
    scope = torch.device(device) if hasattr(torch.device, "__enter__") else contextlib.nullcontext()
    make_beta_schedule = interface.make_beta_schedule

    def beta_schedule_on_cpu(*args, **kwargs):  # it ends in .numpy()
        with torch.device("cpu") if hasattr(torch.device, "__enter__") else contextlib.nullcontext():
            return make_beta_schedule(*args, **kwargs)

    interface.make_beta_schedule = beta_schedule_on_cpu
    with scope:
        ldm = interface.LatentDiffusionInterface(
            unet_config={"target": "mvdream.ldm.modules.diffusionmodules.openaimodel.MultiViewUNetModel",
                         "params": MVDREAM_SD21},
            cond_stage_config={"target": "torch.nn.Identity"},  # its weights: the CLIP text tower below
            first_stage_config={"target": "mvdream.ldm.models.autoencoder.AutoencoderKL", "params": VAE_SD},
            linear_start=0.00085, linear_end=0.0120, timesteps=1000, scale_factor=0.18215)
        clip = oc_model.CLIP(**VIT_H_14, output_dict=True)
    ldm, clip = ldm.to(device), clip.to(device)
    fill_zero_weights(ldm, generator)
    ldm.eval().requires_grad_(False)
    clip.eval().requires_grad_(False)
    return ldm, clip


def save_weights(ldm, clip, directory):
    os.makedirs(directory, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in ldm.state_dict().items()}
    for k, v in clip.state_dict().items():
        if not k.startswith("visual."):  # FrozenOpenCLIPEmbedder deletes model.visual
            state["cond_stage_model.model." + k] = v.detach().cpu()
    torch.save(state, os.path.join(directory, "mvdream_random.pt"))
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in clip.state_dict().items()}},
               os.path.join(directory, "hpsv2_random.pt"))
    return sum(v.numel() for v in state.values())


def hpsv2_preprocess(img, size=224):
    """DreamDPO's HPSv2Preprocess: torchvision resize (bicubic, shorter side, no antialias) + normalise."""
    img = F.interpolate(img, size=(size, size), mode="bicubic", align_corners=False)
    mean = torch.as_tensor(OPENAI_MEAN, dtype=img.dtype, device=img.device).reshape(1, -1, 1, 1)
    std = torch.as_tensor(OPENAI_STD, dtype=img.dtype, device=img.device).reshape(1, -1, 1, 1)
    return (img - mean) / std


class ReferenceStep:
    """MultiviewDiffusionGuidance.forward of DreamDPO (beta_dpo 0.01, guidance 7.5, 4 views)."""

    def __init__(self, ldm, clip, camera_utils, device, weights_dtype=torch.float16):
        self.ldm, self.clip, self.device = ldm, clip, device
        self.weights_dtype = weights_dtype
        self.guidance_scale, self.beta_dpo, self.n_view = 7.5, 0.01, 4
        self.min_step, self.max_step = 20, 980
        g = torch.Generator(device=device).manual_seed(1)
        # prompt_utils.get_text_embeddings: [cond x4, uncond x4], reordered as the guidance does
        pos = torch.randn(1, 77, 1024, generator=g, device=device).expand(4, -1, -1)
        null = torch.randn(1, 77, 1024, generator=g, device=device).expand(4, -1, -1)
        self.text_embeddings = torch.cat([pos, null, pos, null])
        ids = torch.zeros(4, 77, dtype=torch.long, device=device)
        ids[:, 0], ids[:, 1:9], ids[:, 9] = 49406, torch.randint(1, 49000, (4, 8), generator=g, device=device), 49407
        self.text_input = ids
        c2w = torch.stack([torch.tensor(camera_utils.create_camera_to_world_matrix(15.0, az), dtype=torch.float32)
                           for az in (0.0, 90.0, 180.0, 270.0)]).to(device)
        self.camera = camera_utils.normalize_camera(c2w).flatten(start_dim=1)

    def score(self, image):
        outputs = self.clip(hpsv2_preprocess(image), self.text_input)
        return torch.diagonal(outputs["image_features"] @ outputs["text_features"].T)

    def process_noise_pred(self, noise_pred, latents_noisy, t):
        noise_pred_text, noise_pred_null = noise_pred.chunk(2)
        noise_pred = noise_pred_null + self.guidance_scale * (noise_pred_text - noise_pred_null)
        x0 = self.ldm.predict_start_from_noise(latents_noisy, t, noise_pred)
        image = torch.clamp((self.ldm.decode_first_stage(x0) + 1.0) / 2.0, 0.0, 1.0)
        return self.score(image), noise_pred, noise_pred_text

    def __call__(self, rgb):
        batch_size = rgb.shape[0]
        rgb_bchw = rgb.to(self.weights_dtype).permute(0, 3, 1, 2)
        pred_rgb = F.interpolate(rgb_bchw, (256, 256), mode="bilinear", align_corners=False)
        posterior = self.ldm.encode_first_stage(pred_rgb * 2.0 - 1.0)
        latents = self.ldm.get_first_stage_encoding(posterior).to(rgb_bchw.dtype)
        t = torch.randint(self.min_step, self.max_step + 1, [1], dtype=torch.long, device=latents.device)
        t_expand = t.repeat(self.text_embeddings.shape[0])
        with torch.no_grad():
            noise_1, noise_2 = torch.randn_like(latents), torch.randn_like(latents)
            noisy_1, noisy_2 = self.ldm.q_sample(latents, t, noise_1), self.ldm.q_sample(latents, t, noise_2)
            model_input = torch.cat([noisy_1] * 2 + [noisy_2] * 2)
            context = {"context": self.text_embeddings, "camera": self.camera.repeat(4, 1).to(self.text_embeddings),
                       "num_frames": self.n_view}
            noise_pred_1, noise_pred_2 = self.ldm.apply_model(model_input, t_expand, context).chunk(2)
            score_1, noise_pred_1, text_1 = self.process_noise_pred(noise_pred_1, noisy_1, t)
            score_2, noise_pred_2, text_2 = self.process_noise_pred(noise_pred_2, noisy_2, t)
            win_1 = score_1 >= score_2
            win_2 = torch.logical_not(win_1)
            gap = torch.zeros_like(score_1)
            gap[win_1] = score_1[win_1] - score_2[win_1]
            gap[win_2] = score_2[win_2] - score_1[win_2]
            mask = (gap < self.beta_dpo).int().view(batch_size, 1, 1, 1)
            reward = torch.zeros_like(noise_pred_1)
            reward[win_1] = (noise_pred_1[win_1] - noise_1[win_1]) - (text_2[win_1] - noise_2[win_1])
            reward[win_2] = (noise_pred_2[win_2] - noise_2[win_2]) - (text_1[win_2] - noise_1[win_2])
            reward_sds = torch.zeros_like(noise_pred_1)
            reward_sds[win_1] = noise_pred_1[win_1]
            reward_sds[win_2] = noise_pred_2[win_2]
            grad = (1 - self.ldm.alphas_cumprod[t]) * (mask * reward_sds + (1 - mask) * reward)
        grad = torch.nan_to_num(grad)
        target = (latents - grad).detach()
        return 0.5 * F.mse_loss(latents, target, reduction="sum") / latents.shape[0]


def time_steps(step, device, steps, warmup=3, autocast=True):
    rgb = torch.rand(4, 256, 256, 3, device=device, requires_grad=True)
    times = []
    for i in range(warmup + steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.float16, enabled=autocast):
            loss = step(rgb)
        loss.backward()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(1000 * (time.perf_counter() - start))
        assert torch.isfinite(rgb.grad).all(), "non-finite gradient"
        rgb.grad = None
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(math.ceil(0.9 * len(times))) - 1],
            "steps": steps, "peak_allocated_mib": torch.cuda.max_memory_allocated() / 2**20,
            "peak_reserved_mib": torch.cuda.max_memory_reserved() / 2**20}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mvdream", required=True, help="bytedance/MVDream checkout (holds mvdream/)")
    parser.add_argument("--open-clip", required=True, help="mlfoundations/open_clip checkout (holds src/open_clip)")
    parser.add_argument("--weights", required=True, help="folder for mvdream_random.pt and hpsv2_random.pt")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    device = "cuda"
    attention = install_xformers_stand_in()
    interface, camera_utils, oc_model = import_references(args.mvdream, args.open_clip)
    start = time.perf_counter()
    ldm, clip = build(interface, oc_model, device)
    print(f"built random networks in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    n = save_weights(ldm, clip, args.weights)
    print(f"wrote {args.weights}: {n / 1e6:.0f}M prior parameters + HPSv2, {time.perf_counter() - start:.1f} s",
          flush=True)
    results = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(), "attention": attention}
    step = ReferenceStep(ldm, clip, camera_utils, device)
    torch.cuda.reset_peak_memory_stats()
    results["fp32 weights + autocast fp16 (official 16-mixed)"] = time_steps(step, device, args.steps)
    print(json.dumps(results, indent=1), flush=True)
    ldm.half()
    clip.half()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    results["fp16 weights + autocast fp16"] = time_steps(step, device, args.steps)
    print(json.dumps(results, indent=1), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
