"""Tandem VLA: parameters, chunk latency at batch 1 (median, p95), training samples/s, memory, and
closed-loop success on the block task next to the scripted expert on the same unseen seeds.

python -m eval.bench policy [--checkpoint CKPT] [--device cpu|cuda] [--repeats 30] [--train-steps 10]
                            [--compile] [--int8] [--closed-loop N --seeds-start 30000 --execute K]

Without --checkpoint it measures a freshly initialized model of the default size (latency does not
depend on the weights). Training throughput is measured on a synthetic batch of the same shapes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from dataclasses import dataclass

import numpy as np

# The block task as two calls through the normal runtime, each one attempt (no retries, no replans).
BLOCK_CALLS = [
    ("pick", "pick", {"object": "red_block", "hand": "right"}, []),
    ("place", "place", {"object": "red_block", "location": "yellow_zone", "hand": "right"}, ["pick"]),
]


@dataclass
class BlockRollout:
    seed: int
    success: bool  # the physics: red_block in yellow_zone and out of the hand at the end
    detail: str
    calls: list[tuple[str, str, str]]  # skill, status, reason
    peak_target_rad_s: float  # fastest commanded right-arm target motion


def run_block_task(manipulation: str, seeds, locomotion: str = "holonomic") -> list[BlockRollout]:
    """The block task in the G1 lab on each seed with ``manipulation`` (``scripted``, ``policy:CKPT``...),
    standing on ``locomotion`` (holonomic: where the block demonstrations were recorded)."""
    from agent.runtime import Runtime
    from envs.lab.env import G1LabEnv
    from envs.predicates import object_in_zone
    from skills.policies.manipulation import resolve

    env = G1LabEnv(seed=0, locomotion=locomotion)
    backend = resolve(manipulation)
    out = []
    for seed in seeds:
        env.reset(seed)
        rt = Runtime(env, manipulation=backend)
        peak, last = [0.0], {}

        def target_rate(r, peak=peak, last=last) -> None:
            target = r.last_command.get("right_arm")
            if target is None:
                return
            if "arm" in last:
                peak[0] = max(peak[0], float(np.abs(np.asarray(target) - last["arm"]).max()) / env.control_dt)
            last["arm"] = np.asarray(target)

        rt.on_tick.append(target_rate)
        rt.run_calls(BLOCK_CALLS)
        ok, detail = object_in_zone(rt.world, "red_block", "yellow_zone")
        calls = [(o.skill, o.status, o.reason) for o in rt.outcomes]
        out.append(BlockRollout(seed, ok, detail, calls, peak[0]))
    env.close()  # its renderer, before the interpreter tears EGL down
    return out


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.bench policy", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="a VLA checkpoint folder (default: a fresh model)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch's; ONNX Runtime's in its row)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16, help="training batch for samples/s")
    ap.add_argument(
        "--compile", action="store_true", help="also time torch.compile(mode='reduce-overhead') (CUDA graphs)"
    )
    ap.add_argument(
        "--int8",
        action="store_true",
        help="also time the chunk with the Linear layers quantized to int8 (dynamic, CPU only)",
    )
    ap.add_argument(
        "--closed-loop", type=int, default=0, metavar="N", help="run the block task on N unseen seeds"
    )
    ap.add_argument("--seeds-start", type=int, default=30000, help="first closed-loop seed")
    ap.add_argument(
        "--locomotion",
        default="holonomic",
        help="closed loop: what the G1 stands on (holonomic: where the demonstrations were recorded)",
    )
    ap.add_argument(
        "--execute",
        type=int,
        default=None,
        metavar="K",
        help="closed loop: actions played per chunk (default: the checkpoint's)",
    )
    args = ap.parse_args(argv)

    import torch

    from skills.policies.vla.configuration_vla import G1, VLAConfig
    from skills.policies.vla.language import InstructionBank
    from skills.policies.vla.modeling_vla import count_parameters
    from skills.policies.vla.policy import VLAPolicy
    from skills.policies.vla.processor_vla import EmbodimentStats, FeatureStats, Normalizer
    from skills.sentences import DIM

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.checkpoint:
        policy = VLAPolicy.load(args.checkpoint, device=args.device, merge=True)
    else:
        cfg = VLAConfig()
        dim = cfg.embodiment(G1).state_dim
        flat = FeatureStats(mean=[0.0] * dim, std=[1.0] * dim, min=[-1.0] * dim, max=[1.0] * dim)
        norm = Normalizer({G1: EmbodimentStats(state=flat, action=flat)})
        bank = InstructionBank({"bench": np.ones(DIM, np.float32) / np.sqrt(DIM)})
        policy = VLAPolicy.create(cfg, norm, bank)
        policy.model.to(args.device)
    cfg = policy.config
    _, total = count_parameters(policy.model)
    h, w = cfg.image_size
    rng = np.random.default_rng(0)
    instr = next(iter(policy.bank.vectors))
    state = rng.normal(size=(1, cfg.embodiment(G1).state_dim)).astype(np.float32)

    def chunk() -> None:
        image = rng.integers(0, 255, (1, h, w, 3), dtype=np.uint8)
        policy.predict(image, state, [instr])
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def timed(warm: int = 3) -> tuple[list[float], list[float]]:
        for _ in range(warm):
            chunk()
        lat, cpu = [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            chunk()
            lat.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
        return lat, cpu

    lat, cpu = timed()
    compiled = "not asked (--compile)"
    if args.compile:
        net = policy.network
        eager_denoise = net.denoise
        try:
            net.denoise = torch.compile(eager_denoise, mode="reduce-overhead")  # type: ignore[method-assign]
            clat, _ = timed(warm=10)
            compiled = f"median {statistics.median(clat):.2f} ms, p95 {_quantile(clat, 0.95):.2f} ms"
        except Exception as e:  # a compiler failure is a figure too
            compiled = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
        net.denoise = eager_denoise  # type: ignore[method-assign]

    onnx = "CPU only"
    if args.device == "cpu":
        image = rng.integers(0, 255, (1, h, w, 3), dtype=np.uint8)
        reference = policy.predict(image, state, [instr])
        eager = policy
        policy = policy.on_onnx_runtime(args.threads)
        torch.set_num_threads(1)  # as policy:CKPT runs it: torch keeps one thread for the frame's resize
        drift = float(np.abs(policy.predict(image, state, [instr]) - reference).max())
        olat, ocpu = timed()
        torch.set_num_threads(args.threads)
        policy = eager
        onnx = (
            f"median {statistics.median(olat):.1f} ms, p95 {_quantile(olat, 0.95):.1f} ms; "
            f"{statistics.median(ocpu):.1f} ms of CPU; actions within {drift:.1e} of torch's (joint units)"
        )

    int8 = "not asked (--int8)"
    if args.int8 and args.device != "cpu":
        int8 = "CPU only"
    elif args.int8:
        image = rng.integers(0, 255, (1, h, w, 3), dtype=np.uint8)
        reference = policy.predict(image, state, [instr])
        fp32 = policy.model
        policy.model = policy.quantized_int8().model
        drift = float(np.abs(policy.predict(image, state, [instr]) - reference).max())
        _, qcpu = timed()
        policy.model = fp32
        int8 = (
            f"median {statistics.median(qcpu):.1f} ms of CPU (float32: {statistics.median(cpu):.1f}); "
            f"actions within {drift:.3f} of float32's (joint units)"
        )

    # Training throughput: forward + backward + AdamW on random tensors of the training shapes.
    model = policy.network
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    r, b, dev = cfg.vision_resolution, args.batch, torch.device(args.device)
    spec = cfg.embodiment(G1)
    batch = {
        "images": torch.rand(b, 3, r, r, device=dev),
        "language": torch.randn(b, cfg.language_dim, device=dev),
        "state": torch.randn(b, spec.state_dim, device=dev),
        "actions": torch.randn(b, cfg.chunk, spec.action_dim, device=dev),
    }
    amp = dev.type == "cuda"
    times = []
    for step in range(args.train_steps + 2):
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = model(G1, **batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if amp:
            torch.cuda.synchronize()
        if step >= 2:
            times.append(time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [
        ("parameters", f"{total / 1e6:.2f} M ({total * 4 / 2**20:.0f} MiB as float32)"),
        (
            "input",
            f"{h}x{w} frame -> {r}x{r}, chunk {cfg.chunk} x {spec.action_dim}, "
            f"{cfg.denoise_steps} Euler steps",
        ),
        ("device", f"{args.device} ({args.threads} thread{'s' if args.threads > 1 else ''})"),
        (
            "chunk latency, batch 1",
            f"median {statistics.median(lat):.1f} ms, p95 {_quantile(lat, 0.95):.1f} ms",
        ),
        # On a shared machine wall time includes waiting for a core; process CPU time does not.
        (
            "chunk CPU time, batch 1",
            f"median {statistics.median(cpu):.1f} ms, p95 {_quantile(cpu, 0.95):.1f} ms",
        ),
        ("chunk, ONNX Runtime (policy:CKPT's CPU default)", onnx),
        ("chunk, int8 Linear layers", int8),
        ("chunk latency, torch.compile (reduce-overhead)", compiled),
        ("load average (1 min)", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"),
        (
            "training",
            f"{b / statistics.median(times):.0f} samples/s (batch {b}, median of {len(times)} steps)",
        ),
        ("peak memory (RSS)", f"{rss_mb:.0f} MiB"),
        *(
            [("peak GPU memory", f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")]
            if dev.type == "cuda"
            else []
        ),
    ]
    if args.closed_loop:
        from eval.metrics import wilson

        if not args.checkpoint:
            raise SystemExit("--closed-loop needs --checkpoint (a trained policy)")
        seeds = range(args.seeds_start, args.seeds_start + args.closed_loop)
        options = [f"execute={args.execute}"] * bool(args.execute) + ["int8=1"] * bool(args.int8)
        policy_spec = f"policy:{args.checkpoint}" + ("?" + "&".join(options) if options else "")
        runtime = "torch, int8" if args.int8 else "onnx"
        for name, spec in ((f"policy ({runtime})", policy_spec), ("scripted expert", "scripted")):
            runs = run_block_task(spec, seeds, args.locomotion)
            k, n = sum(r.success for r in runs), len(runs)
            lo, hi = wilson(k, n)
            misses = ", ".join(
                f"{r.seed}: {r.calls[-1][2] if r.calls else r.detail}" for r in runs if not r.success
            )
            rows.append(
                (
                    f"block task, {name}",
                    f"{k}/{n} seeds {seeds.start}-{seeds.stop - 1} (95% CI {lo:.0%}-{hi:.0%})"
                    + (f"; misses {misses}" if misses else ""),
                )
            )
    width = max(len(k) for k, _ in rows)
    print(f"{'figure':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0
