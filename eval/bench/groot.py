"""GR00T protocol latency: round trip per chunk through the wire vs in-process, and the loop's late ticks.

    python -m eval.bench groot [--dataset DS] [--requests 200] [--seconds 8] [--latency-ms 200]

1. Per chunk at batch 1 with a 224x224 ego frame and the 43-D G1 state: the same policy called
   in-process, and through ``tandem groot serve`` (a separate process on localhost) with GrootClient,
   for both wire versions: the replay, and a Tandem VLA checkpoint (``--policy``; default: one with
   random weights at the default sizes, the same compute as a trained one) on one CPU thread each side.
   The difference is the protocol's overhead (msgpack + np.save + ZeroMQ + the server's checks).
2. The G1 lab's 50 Hz loop paced in real time, walk_to on the base beside a GR00T executor on the right
   arm and hand, with the server answering ``--latency-ms`` late: late ticks of the GR00T executor, ticks
   whose work overran the 20 ms period (stalls: physics, world state and executors together, so a busy
   machine adds its own), ticks on which the GR00T executor alone took longer than the period, and
   ticks the base went without a command.
Without ``--dataset`` a one-episode synthetic dataset (LeRobot v2.1 layout, G1 43-D) is written to a
temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from envs.robots.g1.g1_constants import STATE_RANGES

INSTRUCTION = "wave the right arm"
GROUPS = STATE_RANGES


def write_dataset(root: Path, start: np.ndarray, frames: int = 400, fps: int = 20) -> Path:
    """One episode of slow right-arm motion from ``start``, in the LeRobot v2.1 layout with modality.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = np.arange(frames) / fps
    action = np.repeat(start[None].astype(np.float32), frames, axis=0)
    action[:, 30] += (0.2 * np.sin(2 * np.pi * 0.25 * t)).astype(np.float32)  # right shoulder roll
    state = np.concatenate([start[None], action[:-1]]).astype(np.float32)
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "data/chunk-000").mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "observation.state": pa.array(list(state), pa.list_(pa.float32(), 43)),
            "action": pa.array(list(action), pa.list_(pa.float32(), 43)),
            "timestamp": pa.array(t.astype(np.float32)),
            "frame_index": pa.array(np.arange(frames)),
            "episode_index": pa.array(np.zeros(frames, np.int64)),
            "index": pa.array(np.arange(frames)),
            "task_index": pa.array(np.zeros(frames, np.int64)),
        }
    )
    pq.write_table(table, root / "data/chunk-000/episode_000000.parquet")
    info = {
        "codebase_version": "v2.1",
        "robot_type": "unitree_g1",
        "fps": fps,
        "total_episodes": 1,
        "total_frames": frames,
        "chunks_size": 1000,
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": {
            "observation.state": {"dtype": "float32", "shape": [43]},
            "action": {"dtype": "float32", "shape": [43]},
        },
    }
    span = {k: {"start": a, "end": b} for k, (a, b) in GROUPS.items()}
    modality = {
        "state": span,
        "action": span,
        "video": {"ego_view": {"original_key": "observation.images.ego_view"}},
        "annotation": {"human.task_description": {"original_key": "task_index"}},
    }
    (root / "meta/info.json").write_text(json.dumps(info))
    (root / "meta/modality.json").write_text(json.dumps(modality))
    (root / "meta/tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": "wave the right arm"}) + "\n")
    episode = {"episode_index": 0, "tasks": ["wave the right arm"], "length": frames}
    (root / "meta/episodes.jsonl").write_text(json.dumps(episode) + "\n")
    return root


def untrained_checkpoint(folder: Path, instruction: str, **config) -> Path:
    """A Tandem VLA checkpoint with random weights (``config`` overrides VLAConfig's sizes): the compute
    of a trained one, for timing, and seeded outputs to compare in-process and served predictions."""
    import torch

    from skills.policies.vla.configuration_vla import G1, VLAConfig
    from skills.policies.vla.language import InstructionBank
    from skills.policies.vla.policy import VLAPolicy
    from skills.policies.vla.processor_vla import EmbodimentStats, FeatureStats, Normalizer
    from skills.sentences import DIM

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 43))
    stats = EmbodimentStats(state=FeatureStats.of(x), action=FeatureStats.of(x), source="random")
    vec = rng.normal(size=DIM).astype(np.float32)
    bank = InstructionBank({instruction: vec / np.linalg.norm(vec)})
    VLAPolicy.create(VLAConfig(**config), Normalizer({G1: stats}), bank).save(folder)
    return folder


def start_server(
    dataset: Path | None, version: str, latency_ms: float = 0.0, policy: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """``tandem groot serve --replay DATASET`` (or ``--policy CKPT``) in its own process; returns it and
    its groot:// URL."""
    what = ["--replay", str(dataset)] if policy is None else ["--policy", str(policy), "--device", "cpu"]
    cmd = [sys.executable, "-m", "agent.cli.main", "groot", "serve", *what]
    env = os.environ | {"OMP_NUM_THREADS": "1"}  # the same single torch thread as the in-process side
    cmd += ["--port", "0", "--host", "127.0.0.1", "--version", version, "--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline() if proc.stdout else ""
    if "server on tcp://" not in line:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    port = int(line.split("tcp://", 1)[1].split(":", 1)[1].split(":", 1)[0])
    return proc, f"groot://127.0.0.1:{port}"


def _protocol(dataset: Path, ckpt: Path | None, version: str, requests: int) -> dict[str, float]:
    """Median get_action in-process and through the protocol, for the replay or (``ckpt``) the VLA."""
    from skills.policies.groot.client import GrootClient
    from skills.policies.groot.protocol import Request

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    state = rng.normal(size=43).astype(np.float32)
    states = {k: state[a:b] for k, (a, b) in GROUPS.items()}
    if ckpt is None:
        from skills.policies.groot.replay import ReplayPolicy

        local = ReplayPolicy(dataset, version)  # type: ignore[arg-type]
        req = Request(
            video={"ego_view": frame[None, None]},
            state={k: v[None, None] for k, v in states.items()},
            instructions=[INSTRUCTION],
            batch=1,
        )
        infer = lambda: local.get_action(req)  # noqa: E731
    else:
        import torch

        from skills.policies.vla.policy import VLAPolicy

        torch.set_num_threads(1)
        vla = VLAPolicy.load(ckpt, device="cpu")
        infer = lambda: vla.predict(frame[None], state[None], [INSTRUCTION])  # noqa: E731
    import psutil

    inproc = []
    cpu0 = time.process_time()
    for _ in range(requests):
        t0 = time.perf_counter()
        infer()
        inproc.append(time.perf_counter() - t0)
    inproc_cpu = (time.process_time() - cpu0) / requests
    proc, url = start_server(dataset, version, policy=ckpt)
    try:
        client = GrootClient.from_url(f"{url}?timeout=120")
        client.spec()
        client.get_action({"ego_view": frame}, states, INSTRUCTION)  # warm both sides
        server = psutil.Process(proc.pid)
        s0, c0 = sum(server.cpu_times()[:2]), time.process_time()
        wire = []
        for _ in range(requests):
            t0 = time.perf_counter()
            client.get_action({"ego_view": frame}, states, INSTRUCTION)
            wire.append(time.perf_counter() - t0)
        client_cpu = (time.process_time() - c0) / requests
        server_cpu = (sum(server.cpu_times()[:2]) - s0) / requests
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "inproc_ms": statistics.median(inproc) * 1000,
        "wire_ms": statistics.median(wire) * 1000,
        "wire_p95_ms": float(np.percentile(wire, 95)) * 1000,
        # CPU seconds the protocol adds per chunk (both processes, the policy's own compute taken out):
        # unlike wall time it does not grow when other jobs hold the cores.
        "protocol_cpu_ms": (client_cpu + server_cpu - inproc_cpu) * 1000,
    }


def _loop(dataset: Path, version: str, seconds: float, latency_ms: float) -> dict[str, float]:
    from envs.registry import make_scene
    from skills.library.walk_to import SPEC as WALK
    from skills.library.walk_to import WalkToArgs
    from skills.policies.groot.backend import GrootBackend

    env = make_scene("g1_lab", seed=0, locomotion="holonomic")
    proc, url = start_server(dataset, version, latency_ms)
    try:
        backend = GrootBackend(url)
        obs, world = env.observation(), env.world_state()
        groot = backend.chunk_executor(env, ("right_arm", "right_hand"), "wave the right arm", steps=10**9)
        walk = WALK.executor(env, WalkToArgs(station="shelf"))
        for ex in (groot, walk):
            ex.reset(obs, world)
        dt = env.control_dt
        ticks = round(seconds / dt)
        overruns = base_missing = 0
        work: list[float] = []
        acts: list[float] = []  # the GR00T executor's own time on the control thread per tick
        first_wait = 0  # ticks before the first chunk arrived (late by construction)
        next_t = time.perf_counter()
        for _ in range(ticks):
            t0 = time.perf_counter()
            cmd: dict = {}
            part = groot.act(obs, world)
            acts.append(time.perf_counter() - t0)
            first_wait += not part and first_wait == len(acts) - 1
            cmd.update(part)
            if not walk.finished:
                part = walk.act(obs, world)
                base_missing += "base" not in part
                cmd.update(part)
            obs = env.step(cmd)
            world = env.world_state()
            w = time.perf_counter() - t0
            work.append(w)
            overruns += w > dt
            next_t += dt
            time.sleep(max(0.0, next_t - time.perf_counter()))
        stats = groot.stats()
        groot.close()
        backend.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        env.close()
    lat = stats["chunk_latency_ms"]
    return {
        "ticks": ticks,
        "late_ticks": stats["late_ticks"],
        "late_after_first": stats["late_ticks"] - first_wait,
        "overruns": overruns,
        "base_missing": base_missing,
        "chunks": stats["chunks"],
        "chunk_ms": statistics.median(lat) if lat else float("nan"),
        "work_p99_ms": float(np.percentile(work, 99)) * 1000,
        "act_max_ms": max(acts) * 1000,
        "act_overruns": sum(a > dt for a in acts),
        "prefetch_ticks": groot.stream.prefetch_at,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m eval.bench groot", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, help="LeRobot v2.1 dataset to replay (default: synthetic)")
    p.add_argument("--policy", type=Path, help="Tandem VLA checkpoint (default: untrained, default sizes)")
    p.add_argument("--requests", type=int, default=200, help="replay round trips per version")
    p.add_argument("--vla-requests", type=int, default=50, help="VLA round trips per version")
    p.add_argument("--seconds", type=float, default=8.0, help="paced control-loop seconds per version")
    p.add_argument("--latency-ms", type=float, default=200.0, help="the slow server's delay per answer")
    p.add_argument("--parts", default="protocol,loop", help="which parts to run: protocol, loop")
    args = p.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset
        if dataset is None:
            from envs.registry import make_scene

            env = make_scene("g1_lab", seed=0, locomotion="holonomic")
            dataset = write_dataset(Path(tmp) / "synthetic", env.observation().state)
            env.close()
        parts = set(args.parts.split(","))
        ckpt = args.policy
        if ckpt is None and "protocol" in parts:
            ckpt = untrained_checkpoint(Path(tmp) / "vla", INSTRUCTION)
        if "protocol" in parts:
            t = Table(title="get_action per chunk, batch 1, 224x224 frame + 43-D state, localhost, CPU")
            cols = ("policy", "wire", "in-process ms", "through protocol ms", "p95 ms", "overhead ms")
            for col in (*cols, "protocol CPU ms"):
                t.add_column(col, justify="right")
            for name, c, n in (("replay", None, args.requests), ("Tandem VLA", ckpt, args.vla_requests)):
                for version in ("n1.5", "n1.6"):
                    r = _protocol(dataset, c, version, n)
                    t.add_row(
                        name,
                        version,
                        f"{r['inproc_ms']:.3f}",
                        f"{r['wire_ms']:.3f}",
                        f"{r['wire_p95_ms']:.3f}",
                        f"{r['wire_ms'] - r['inproc_ms']:.3f}",
                        f"{r['protocol_cpu_ms']:.3f}",
                    )
            console.print(t)
        if "loop" in parts:
            t = Table(title=f"50 Hz loop paced in real time, server answering in {args.latency_ms:g} ms")
            for col in ("wire", "ticks", "late ticks", "late after 1st chunk", "stalls (work > 20 ms)"):
                t.add_column(col, justify="right")
            more = ("base without command", "chunks", "chunk round trip ms", "work p99 ms")
            more += ("GR00T act() > 20 ms", "GR00T act() max ms", "prefetch (ticks)")
            for col in more:
                t.add_column(col, justify="right")
            for version in ("n1.5", "n1.6"):
                r = _loop(dataset, version, args.seconds, args.latency_ms)
                t.add_row(
                    version,
                    str(r["ticks"]),
                    str(r["late_ticks"]),
                    str(r["late_after_first"]),
                    str(r["overruns"]),
                    str(r["base_missing"]),
                    str(r["chunks"]),
                    f"{r['chunk_ms']:.1f}",
                    f"{r['work_p99_ms']:.2f}",
                    str(r["act_overruns"]),
                    f"{r['act_max_ms']:.2f}",
                    str(r["prefetch_ticks"]),
                )
            console.print(t)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(f"load average {load} on {os.cpu_count()} CPUs")
    console.print(f"python -m eval.bench groot {' '.join(argv or sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
