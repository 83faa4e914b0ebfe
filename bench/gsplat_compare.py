"""gsplat on the scene of bench/rasterizer_bench.cpp (CudaScene), for the side-by-side table in
bench/rasterizer_cuda.md.

Same distribution as our benchmark (not the same random numbers): N Gaussians uniform in a ball
of radius 0.6, per-axis scales 0.55 x (ball volume / N)^(1/3) x exp(0.5 z), random rotations,
opacities U(0.05, 0.95), random RGB colours; 4 views on an orbit at elevation 15 deg, distance
2.5, fovy 45 deg, 256x256, white background, float32. Forward+backward = render RGB and expected
depth, loss sum(rgb) + sum(alpha) + sum(depth), backward to all five inputs — what our
benchmark does. Times: median wall clock over the iterations, synchronised per iteration.

Usage (GPU machine, gsplat's source on PYTHONPATH; it JIT-compiles its kernels on first use):
  python3 bench/gsplat_compare.py [--iters 50]
"""
import argparse
import math
import statistics
import time

import torch


def make_scene(count, seed=0):
    g = torch.Generator().manual_seed(seed)
    radius = 0.6
    direction = torch.randn(count, 3, generator=g)
    means = direction / direction.norm(dim=1, keepdim=True) * radius * torch.rand(count, 1, generator=g) ** (1 / 3)
    spacing = 0.55 * (4 / 3 * math.pi * radius**3 / count) ** (1 / 3)
    scales = spacing * torch.exp(0.5 * torch.randn(count, 3, generator=g))
    quats = torch.randn(count, 4, generator=g)
    quats = quats / quats.norm(dim=1, keepdim=True)
    opacities = 0.05 + 0.9 * torch.rand(count, generator=g)
    colours = torch.rand(count, 3, generator=g)
    return [t.cuda().requires_grad_(True) for t in (means, quats, scales, opacities, colours)]


def orbit_cameras(views, elevation_deg, distance, fovy_deg, size):
    """World-to-camera matrices in gsplat's (OpenCV) convention and pinhole intrinsics."""
    viewmats, ks = [], []
    el = math.radians(elevation_deg)
    focal = 0.5 * size / math.tan(0.5 * math.radians(fovy_deg))
    for i in range(views):
        az = 2 * math.pi * i / views
        eye = torch.tensor([distance * math.cos(el) * math.sin(az), distance * math.sin(el),
                            distance * math.cos(el) * math.cos(az)])
        forward = -eye / eye.norm()
        right = torch.linalg.cross(forward, torch.tensor([0.0, 1.0, 0.0]))
        right = right / right.norm()
        down = torch.linalg.cross(forward, right)
        rot = torch.stack([right, down, forward])  # rows: camera x (right), y (down), z (forward)
        w2c = torch.eye(4)
        w2c[:3, :3] = rot
        w2c[:3, 3] = -rot @ eye
        viewmats.append(w2c)
        ks.append(torch.tensor([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]]))
    return torch.stack(viewmats).cuda(), torch.stack(ks).cuda()


def timed(fn, iters):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - before) / 2**20
    return statistics.median(times) * 1e3, peak


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=50)
    args = parser.parse_args()
    from gsplat import rasterization
    import gsplat

    size = 256
    viewmats, ks = orbit_cameras(4, 15.0, 2.5, 45.0, size)
    background = torch.ones(4, 3, device="cuda")
    print(f"gsplat {gsplat.__version__}, torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print("| gsplat | N | packed | forward ms | forward peak MiB | fwd+bwd ms | fwd+bwd peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for count in (100_000, 1_000_000):
        means, quats, scales, opacities, colours = make_scene(count)
        for packed in (True, False):
            def render():
                rgbd, alpha, _ = rasterization(means, quats, scales, opacities, colours, viewmats, ks, size, size,
                                               packed=packed, backgrounds=background, render_mode="RGB+ED")
                return rgbd, alpha

            def forward():
                with torch.no_grad():
                    render()

            def forward_backward():
                rgbd, alpha = render()
                (rgbd.sum() + alpha.sum()).backward()
                for t in (means, quats, scales, opacities, colours):
                    t.grad = None

            f_ms, f_peak = timed(forward, args.iters)
            fb_ms, fb_peak = timed(forward_backward, args.iters)
            print(f"| {gsplat.__version__} | {count} | {packed} | {f_ms:.2f} | {f_peak:.0f} | {fb_ms:.2f} | {fb_peak:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
