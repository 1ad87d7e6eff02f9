"""Does a policy's vision encoder see where the object is? A linear probe from its tokens to the object's
start position, next to the same probe on an untrained encoder of the same shape.

    python -m eval.experiments.vision_probe models/vla_block [--seeds 80] [--seed-start 50000]

When `tandem diagnose` says a policy ignores the object position, this tells the two causes apart: an
encoder whose tokens do not hold the position (high R² impossible), or an action head that does not use
what the tokens hold (R² near 1 and the grasp still ignores the object).
"""

from __future__ import annotations

import argparse

import numpy as np


def cv_r2(features: np.ndarray, targets: np.ndarray, ridge: float, folds: int = 5) -> np.ndarray:
    """Cross-validated R² per target column of a ridge regression (kernel form: features may be wide)."""
    idx = np.arange(len(targets))
    pred = np.zeros_like(targets, dtype=float)
    for test in np.array_split(idx, folds):
        train = np.setdiff1d(idx, test)
        mu, ym = features[train].mean(0), targets[train].mean(0)
        f = features[train] - mu
        alpha = np.linalg.solve(f @ f.T + ridge * np.eye(len(train)), targets[train] - ym)
        pred[test] = (features[test] - mu) @ (f.T @ alpha) + ym
    return 1 - ((pred - targets) ** 2).sum(0) / ((targets - targets.mean(0)) ** 2).sum(0)


def best_r2(features: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float]:
    """The probe's R² per column at the ridge strength (of a decade grid) with the best mean."""
    f = features / (features.std(0) + 1e-6)
    return max(((cv_r2(f, targets, lam), lam) for lam in 10.0 ** np.arange(-2, 6)), key=lambda r: r[0].mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a Tandem VLA checkpoint folder")
    ap.add_argument("--object", default="red_block")
    ap.add_argument("--seeds", type=int, default=80, help="scenes (object positions) to render")
    ap.add_argument("--seed-start", type=int, default=50000)
    args = ap.parse_args(argv)

    import torch

    from envs.lab.env import G1LabEnv
    from skills.policies.vla.modeling_vla import VLAModel
    from skills.policies.vla.policy import VLAPolicy
    from skills.policies.vla.processor_vla import prepare_images

    policy = VLAPolicy.load(args.checkpoint)
    cfg = policy.config
    camera = cfg.camera.rsplit(".", 1)[-1]
    env = G1LabEnv(seed=args.seed_start, locomotion="holonomic")
    frames, where = [], []
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        env.reset(seed)
        where.append(env.world_state().objects[args.object].pos[:2])
        frames.append(env.render(camera, cfg.image_size[1], cfg.image_size[0]))
    env.close()
    xy = np.asarray(where, float)
    images = prepare_images(cfg, torch.from_numpy(np.stack(frames))).float()
    torch.manual_seed(0)
    print(
        f"{args.object} start over {args.seeds} seeds: x {np.ptp(xy[:, 0]) * 100:.1f} cm, "
        f"y {np.ptp(xy[:, 1]) * 100:.1f} cm of range"
    )
    for name, model in (("this checkpoint", policy.network.float()), ("untrained encoder", VLAModel(cfg))):
        with torch.inference_mode():
            tokens = model.vision(images).flatten(1).numpy()
        r2, lam = best_r2(tokens, xy)
        print(f"{name:>17}: cross-validated R² x {r2[0]:.2f}, y {r2[1]:.2f} (ridge {lam:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
