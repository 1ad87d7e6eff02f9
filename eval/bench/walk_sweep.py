"""Tune how skills drive a walker: bench -> shelf -> bench for each variant of its YAML, on many seeds.

    python -m eval.bench walk_sweep eval/bench/sweeps/walker_route.yaml [--seeds 8] [--jobs 16] [--carry]

The sweep file names the walker description it varies and its variants, each a set of fields to
override (``route`` is merged key by key; docs/locomotion.md lists the fields) and optionally the
``scene`` to walk in (a name or a YAML path; default g1_lab):

    walker: envs/locomotion/policies/playground_g1_joystick.yaml
    variants:
      shipped: {}
      slower: {route: {approach_speed: 0.1}}
      knee_room: {scene: my_lab.yaml, standoff_m: 0.05}

Every (variant, seed) runs ``eval.bench.walk.station_walks`` in its own process; the table says per
variant how many walks reached the working pose, how the others ended, and the median error and time.
``--carry`` picks the peroxide at the shelf and holds it on the way back (and counts the round trips
that brought it to the bench unspilled). ``--json`` keeps every walk.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import Counter
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console
from rich.table import Table

from envs.locomotion import DEFAULT_WALKER, PolicyError, load_policy_config
from envs.scene_schema import SceneError, load_scene
from envs.validation import format_validation_error, read_yaml_mapping
from eval.bench.walk import run_jobs


class Sweep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    walker: Path = DEFAULT_WALKER
    variants: dict[str, dict]


def load_sweep(path: Path) -> Sweep:
    raw = read_yaml_mapping(path, ValueError, "walker sweep")
    try:
        return Sweep.model_validate(raw)
    except ValidationError as e:
        raise ValueError(f"{path}: invalid walker sweep\n{format_validation_error(e)}") from None


def write_variants(sweep: Sweep, folder: Path) -> dict[str, tuple[Path, str]]:
    """Each variant as (a walker YAML written in ``folder``, its scene), validated: a bad field fails
    before any walk."""
    base = yaml.safe_load(sweep.walker.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, override in sweep.variants.items():
        raw = {**base, **{k: v for k, v in override.items() if k not in ("route", "scene")}}
        raw["route"] = {**base.get("route", {}), **override.get("route", {})}
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))  # key order: the policy's joint order
        scene = str(override.get("scene", "g1_lab"))
        try:
            load_policy_config(path)
            load_scene(scene)
        except (PolicyError, SceneError) as e:
            raise ValueError(str(e).replace(str(path), f"variant '{name}'")) from None
        out[name] = (path, scene)
    return out


def summarize(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["ok"]]
    return {
        "walks": len(rows),
        "reached": len(ok),
        "ended": dict(Counter(r["status"] for r in rows if not r["ok"])),
        "falls": sum(r["fell"] for r in rows),
        "metres": sum(r["metres"] for r in rows),
        "median_cm": statistics.median(r["pos_cm"] for r in ok) if ok else None,
        "median_s": statistics.median(r["sim_s"] for r in ok) if ok else None,
        "bench_moved_mm": max(r.get("bench_moved_mm", 0.0) for r in rows),
        "carried": sum(r.get("carried", False) for r in rows),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m eval.bench walk_sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sweep", type=Path, help="sweep YAML (walker + variants)")
    p.add_argument("--seeds", type=int, default=8, help="seeds per variant (each but 0 starts nudged)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--carry", action="store_true", help="carry the peroxide from the shelf to the bench")
    p.add_argument("--json", type=Path, default=None, help="write every walk here")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="walk_sweep_") as tmp:
        try:
            variants = write_variants(load_sweep(args.sweep), Path(tmp))
        except ValueError as e:
            p.error(f"{args.sweep}: {e}")
        work = [
            (f"walker:{path}", seed, scene, args.carry)
            for path, scene in variants.values()
            for seed in range(args.seeds)
        ]
        results = run_jobs(work, args.jobs)
    rows: dict[str, list[dict]] = {name: [] for name in variants}
    for (loco, *_), walks in zip(work, results, strict=True):
        rows[Path(loco.removeprefix("walker:")).stem].extend(walks)

    carrying = " carrying the peroxide back" if args.carry else ""
    table = Table(
        "variant",
        "reached",
        "how the others ended",
        "falls / 100 m",
        "median cm",
        "median s",
        *(["carried"] if args.carry else []),
        title=f"walk_to bench -> shelf -> bench{carrying}, {args.seeds} seeds per variant",
    )
    summary = {name: summarize(r) for name, r in rows.items()}
    for name, s in summary.items():
        table.add_row(
            name,
            f"{s['reached']}/{s['walks']}",
            ", ".join(f"{k} {v}" for k, v in s["ended"].items()) or "-",
            f"{100 * s['falls'] / max(s['metres'], 1e-9):.1f}",
            "-" if s["median_cm"] is None else f"{s['median_cm']:.1f}",
            "-" if s["median_s"] is None else f"{s['median_s']:.1f}",
            *([f"{s['carried']}/{args.seeds}"] if args.carry else []),
        )
    Console(width=160).print(table)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "walks": rows}, indent=1))


if __name__ == "__main__":
    main()
