"""How many pixels the red block covers at grasp time, per camera, image size and ego field of view.

    python -m eval.bench cameras [--seeds 5] [--sizes 96,128,224] [--fovs 80,65,50]

The block task (pick + place, right hand) runs on each seed; at the tick the pinch first holds the block
each camera is rendered with segmentation at each size (and the ego view at each vertical FOV), and the
block's geom pixels are counted. Also reported: how far the block's pixels sit from the image centre
(0 = centre, 1 = the edge), to tell a small block from one cut off at the border.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np


def _block_pixels(env, renderer, camera: str, geom: int) -> tuple[int, float]:
    import mujoco

    renderer.update_scene(env.data, camera=camera)
    seg = renderer.render()
    mask = (seg[..., 0] == geom) & (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM))
    n = int(mask.sum())
    if n == 0:
        return 0, float("nan")
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    off = max(abs(xs.mean() - (w - 1) / 2) / (w / 2), abs(ys.mean() - (h - 1) / 2) / (h / 2))
    return n, float(off)


def measure(seeds: list[int], sizes: list[int], fovs: list[float]) -> list[dict]:
    from agent.runtime import Runtime
    from envs.lab.env import G1LabEnv
    from envs.rendering.renderer import fast_renderer

    env = G1LabEnv(seed=0, locomotion="holonomic")
    m = env.model
    geom = m.geom("red_block").id
    ego = m.camera("ego_view").id
    fov0 = float(m.cam_fovy[ego])
    renderers = {}
    for s in sizes:
        r = fast_renderer(m, s, s)
        r.enable_segmentation_rendering()
        renderers[s] = r
    rows = []
    for seed in seeds:
        env.reset(seed)
        rt = Runtime(env)
        rt.call("pick", "pick", {"object": "red_block", "hand": "right"})
        while rt.world.robot.holding.get("right") != "red_block" and not rt.dispatcher.idle():
            rt.tick()
        if rt.world.robot.holding.get("right") != "red_block":
            continue
        for s, r in renderers.items():
            for fov in fovs:
                m.cam_fovy[ego] = fov
                n, off = _block_pixels(env, r, "ego_view", geom)
                rows.append({"seed": seed, "camera": "ego_view", "size": s, "fov": fov, "px": n, "off": off})
            m.cam_fovy[ego] = fov0
            for cam in ("right_wrist", "left_wrist"):
                n, off = _block_pixels(env, r, cam, geom)
                rows.append(
                    {
                        "seed": seed,
                        "camera": cam,
                        "size": s,
                        "fov": float(m.cam_fovy[m.camera(cam).id]),
                        "px": n,
                        "off": off,
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    ap = argparse.ArgumentParser(prog="python -m eval.bench cameras", description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--sizes", default="96,128,224")
    ap.add_argument("--fovs", default="80,65,50", help="ego view vertical FOVs to try (degrees)")
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")]
    fovs = [float(x) for x in a.fovs.split(",")]
    rows = measure(list(range(a.seeds)), sizes, fovs)
    t = Table("camera", "fov", "size", "block px (median)", "min", "max", "off centre (median)", "seeds",
              title="red block at grasp time")  # fmt: skip
    keys = sorted({(r["camera"], r["fov"], r["size"]) for r in rows}, key=lambda k: (k[0], -k[1], k[2]))
    for cam, fov, size in keys:
        sel = [r for r in rows if (r["camera"], r["fov"], r["size"]) == (cam, fov, size)]
        px = [r["px"] for r in sel]
        offs = [r["off"] for r in sel if r["px"] > 0]
        t.add_row(
            cam, f"{fov:g}", str(size), f"{statistics.median(px):g}", str(min(px)), str(max(px)),
            f"{statistics.median(offs):.2f}" if offs else "-", str(len(sel)),
        )  # fmt: skip
    Console().print(t)
