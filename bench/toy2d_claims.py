#!/usr/bin/env python3
"""The paper's 2D claims in miniature on the exact prior.

Prompt "red" matches three templates (red circle, square, triangle); the ranker prefers
squares. For each setting, over N seeds: how often the run ends at the red square, the final
RMS distance to the nearest template (lower = a cleaner image), and how often the lose term
fired. Usage: bench/toy2d_claims.py [SEEDS] > bench/toy2d_claims.md
"""
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("DREAMDPO_BIN", os.path.join(ROOT, "build", "dreamdpo"))
SETTINGS = [
    ("SDS", ["--method", "sds"]),
    ("DreamDPO tau=0", ["--tau", "0"]),
    ("DreamDPO tau=0.001", ["--tau", "0.001"]),
    ("DreamDPO tau=0.01 (default)", ["--tau", "0.01"]),
    ("DreamDPO tau=0.1", ["--tau", "0.1"]),
    ("DreamDPO pairs=timestep", ["--pairs", "timestep"]),
    ("DreamDPO official-code switches", ["--set", "guidance.dreamdpo.low_gap_subtracts_noise=false"]),
]


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def run(flags, seed, out):
    subprocess.run([BIN, "--threads", "1", "-q", "toy2d", "red", *flags, "--seed", str(seed), "-o", out],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "run.json")) as f:
        info = json.load(f)
    with open(os.path.join(out, "metrics.csv")) as f:
        fired = [float(r["lose_fired"]) for r in csv.DictReader(f) if r["lose_fired"]]
    return (info["final"]["nearest_component"], info["final"]["nearest_rmse"],
            sum(fired) / len(fired) if fired else None, info["timings"]["total_s"])


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print("# toy2d claims on the exact prior\n")
    print(f"- date: {datetime.now(timezone.utc):%Y-%m-%d}; machine: {os.cpu_count()} cores, {cpu_model()}; commit {commit}")
    print(f"- command: `bench/toy2d_claims.py {seeds}`; each run is "
          "`dreamdpo --threads 1 toy2d red <flags> --seed S` on preset toy2d "
          "(32x32, 300 steps, CFG 7.5, template ranker preferring squares)\n")
    print("| setting | flags | red square reached | final RMSE to nearest template | lose term fired | s/run |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for name, flags in SETTINGS:
            results = [run(flags, s, os.path.join(work, f"{len(name)}_{s}")) for s in range(seeds)]
            hits = sum(r[0] == "a red square" for r in results)
            rmse = sum(r[1] for r in results) / seeds
            fired = [r[2] for r in results if r[2] is not None]
            fired_text = f"{sum(fired) / len(fired):.2f}" if fired else "n/a"
            secs = sum(r[3] for r in results) / seeds
            print(f"| {name} | `{' '.join(flags)}` | {hits}/{seeds} | {rmse:.4f} | {fired_text} | {secs:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
