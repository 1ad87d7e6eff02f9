"""``tandem experiment lora-vs-full``: the reference story's experiment as one resumable pipeline.

Stages, each reusing what an earlier (possibly killed) invocation finished in the same ``--out``:

1. collect: pretraining demonstrations (multi-task, the held-out task excluded), the held-out task's
   demonstration pool and its validation demonstrations (``data/``; collection resumes by itself).
2. pretrain: a Tandem VLA from scratch on the multi-task set (``pretrain/``).
3. finetune: every cell (method x demo count x training seed, and the LoRA rank sweep) from the pretrained
   policy (``cells/ID/``; a cell with ``summary.json`` is finished and never trained again).
4. eval: every cell and the scripted expert closed loop on the same held-out seeds, plus the prompt probe,
   through the eval runner (``eval/results.sqlite``: finished episodes are skipped on a rerun). With
   ``eval.overlap`` stages 3 and 4 run together: cells train in a thread while the eval workers roll out
   every cell already trained (and the expert from the start).
5. diagnostics: ``diagnostics.json`` from the recorded trajectories and the demonstrations.
6. report: ``report/report.md``, ``report/report.html`` (self-contained) and the PNG plots.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eval.experiments import backends
from eval.experiments.backends import ExperimentError
from eval.experiments.config import Cell, ExperimentConfig

STAGES = ("collect", "pretrain", "finetune", "eval", "diagnostics", "report")
EXPERT = "expert"  # the scripted expert's eval rows: the ceiling, and the scale of demo-to-demo spread


@dataclass(frozen=True)
class Paths:
    root: Path

    def data(self, name: str) -> Path:
        return self.root / "data" / name

    @property
    def pretrain(self) -> Path:
        return self.root / "pretrain"

    def cell(self, cell: Cell) -> Path:
        return self.root / "cells" / cell.id

    @property
    def eval(self) -> Path:
        return self.root / "eval"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def timings(self) -> Path:
        return self.root / "timings.json"

    @property
    def diagnostics(self) -> Path:
        return self.root / "diagnostics.json"

    @property
    def config(self) -> Path:
        return self.root / "config.json"


class Timings:
    """Wall time per stage, summed over invocations (a resumed stage adds to what it had), in timings.json."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        entry = self.data.setdefault(name, {"wall_s": 0.0, "runs": 0})
        t0 = time.perf_counter()
        try:
            yield entry
        finally:
            entry["wall_s"] = round(entry["wall_s"] + time.perf_counter() - t0, 3)
            entry["runs"] += 1
            backends.write_json(self.path, self.data)

    def add(self, name: str, wall_s: float, **fields: Any) -> None:
        """A stage timed elsewhere (one of two overlapped stages): its wall time and what it reports."""
        entry = self.data.setdefault(name, {"wall_s": 0.0, "runs": 0})
        entry.update(fields, wall_s=round(entry["wall_s"] + wall_s, 3), runs=entry["runs"] + 1)
        backends.write_json(self.path, self.data)


# -- the config and the output folder -----------------------------------------------------------------
def _check_out(cfg: ExperimentConfig, paths: Paths) -> None:
    """An output folder belongs to one config: resuming with another would mix results."""
    changed = backends.claim(paths.config, cfg.model_dump(mode="json"))
    if changed:
        raise ExperimentError(
            f"{paths.root} holds an experiment made with another config (fields {', '.join(changed)} "
            "differ): use another --out, or the config it was made with"
        )


def model_options(cfg: ExperimentConfig) -> dict[str, Any]:
    """The VLA config of models trained from scratch: the config's overrides at the collected image size."""
    size = cfg.collect.image_size
    return {**cfg.model, "image_size": [size, size]}


def train_spec(cfg: ExperimentConfig, paths: Paths, cell: Cell | None) -> dict[str, Any]:
    """What ``backends.train`` gets for the pretraining run (cell None) or one fine-tuning cell."""
    from skills.tasks.schema import load_task

    common = {
        "device": cfg.device,
        "workers": cfg.train_workers,
        "instruction_vectors": cfg.instruction_vectors,
    }
    if cell is None:
        p = cfg.pretrain
        return {
            **common,
            "out": str(paths.pretrain),
            "dataset": str(paths.data("pretrain")),
            "method": "scratch",
            "tasks": p.tasks,
            "steps": p.steps,
            "batch": p.batch,
            "lr": p.lr,
            "model": model_options(cfg),
            "seed": 0,
        }
    m = cell.method
    return {
        **common,
        "out": str(paths.cell(cell)),
        "dataset": str(paths.data("held_out")),
        "val_dataset": str(paths.data("val")),
        "method": m.method,
        "init": None if m.method == "scratch" else str(paths.pretrain),
        "model": model_options(cfg) if m.method == "scratch" else {},
        "tasks": [cfg.held_out.task],
        "max_episodes": cell.demos,
        "steps": m.steps,
        "batch": m.batch,
        "lr": m.lr,
        "lora_rank": m.lora_rank,
        "lora_alpha": m.lora_alpha,
        "seed": cell.seed,
        "say": [load_task(t).instruction for t in cfg.prompt.tasks],
        "vector_sources": [p for p in (cfg.instruction_vectors, str(paths.pretrain)) if p],
    }


# -- stages -------------------------------------------------------------------------------------------
def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        disable=not enabled,
    )


def stage_collect(cfg: ExperimentConfig, paths: Paths, console: Console, progress: bool) -> None:
    h = cfg.held_out
    sets = {
        "pretrain": (cfg.pretrain.tasks, cfg.collect.episodes_per_task, cfg.collect.seeds_start),
        "held_out": ([h.task], h.demo_pool, h.demo_seeds_start),
        "val": ([h.task], h.val_episodes, h.demo_seeds_start + h.demo_pool),
    }
    for name, (tasks, n, seed) in sets.items():
        done = paths.data(name) / "collected.json"
        if done.exists():
            console.print(f"  data/{name}: reused ({', '.join(tasks)})")
            continue
        console.print(f"  data/{name}: {n} episodes per task of {', '.join(tasks)}, seeds from {seed}")
        summary = backends.collect(tasks, n, seed, paths.data(name), cfg.collect, progress)
        backends.write_json(done, summary)


def stage_pretrain(cfg: ExperimentConfig, paths: Paths, console: Console, progress: bool) -> dict[str, str]:
    """The multi-task policy every fine-tuning cell starts from: {'pretrain': 'trained' | 'reused'}."""
    status: dict[str, str] = {}
    if (paths.pretrain / backends.SUMMARY).exists():
        status["pretrain"] = "reused"
    else:
        with _progress(progress) as prog:
            task = prog.add_task("pretrain", total=cfg.pretrain.steps, note="scratch, multi-task")
            backends.train(train_spec(cfg, paths, None), lambda s, n: prog.update(task, completed=s))
        status["pretrain"] = "trained"
    console.print(f"  pretrain: {status['pretrain']}")
    return status


def stage_finetune(cfg: ExperimentConfig, paths: Paths, console: Console, progress: bool) -> dict[str, str]:
    """Every cell without a summary.json, ``train_workers`` at a time: id -> trained | reused."""
    cells = cfg.cells()
    todo = [c for c in cells if not (paths.cell(c) / backends.SUMMARY).exists()]
    status = {c.id: "reused" for c in cells if c not in todo}
    if status:
        console.print(f"  {len(status)} of {len(cells)} cells already trained: reused")
    with _progress(progress) as prog:
        overall = prog.add_task("fine-tune", total=len(cells), completed=len(status), note="")
        if cfg.train_workers == 1:
            for c in todo:
                steps = prog.add_task(f"  {c.id}", total=c.method.steps, note=c.method.method)
                backends.train(train_spec(cfg, paths, c), lambda s, n, t=steps: prog.update(t, completed=s))
                prog.remove_task(steps)
                status[c.id] = "trained"
                prog.update(overall, advance=1, note=c.id)
                console.print(f"  cell {c.id}: trained")
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(cfg.train_workers, mp_context=ctx) as pool:
                futures = {
                    pool.submit(backends.train_in_subprocess, train_spec(cfg, paths, c)): c for c in todo
                }
                for f in as_completed(futures):
                    c = futures[f]
                    f.result()
                    status[c.id] = "trained"
                    prog.update(overall, advance=1, note=c.id)
                    console.print(f"  cell {c.id}: trained")
    return status


def check_tasks(cfg: ExperimentConfig) -> None:
    """Tasks that exist, a held-out task no pretraining task shares an instruction with, and probes whose
    success predicates name objects of the held-out task's scene (a probe runs in that scene)."""
    from eval.experiments.episodes import probe_problem
    from skills.tasks.schema import TaskError, load_task

    try:
        held = load_task(cfg.held_out.task)
        pre = {t: load_task(t) for t in cfg.pretrain.tasks}
        probes = [load_task(t) for t in cfg.prompt.tasks]
    except TaskError as e:
        raise ExperimentError(str(e)) from None
    said = set(held.phrasings)
    leaks = sorted(t for t, spec in pre.items() if said & set(spec.phrasings))
    if leaks:
        raise ExperimentError(
            f"pretrain.tasks {leaks} share an instruction with held_out.task '{held.name}': it would not be "
            "held out"
        )
    for p in probes:
        problem = probe_problem(p, held.scene)
        if problem:
            raise ExperimentError(f"prompt.tasks: {problem}")


def episodes(cfg: ExperimentConfig, paths: Paths) -> list:
    """Every eval episode, each judged on one attempt: every cell and the expert on the held-out seeds;
    per cell the prompt probe — the held-out task's scene, seed and plan, the policy told another task's
    instruction, judged by that task's success predicates."""
    from eval.experiments.episodes import episode, with_say
    from skills.tasks.schema import load_task

    held = load_task(cfg.held_out.task)
    probes = [load_task(t) for t in cfg.prompt.tasks]
    seeds = cfg.eval.seeds.list()
    budget = cfg.eval.time_budget_s

    out = [episode(EXPERT, held, held, s, "scripted", budget) for s in seeds]
    for c in cfg.cells():
        policy = backends.manipulation(paths.cell(c), cfg.eval.policy_device)
        out += [episode(c.id, held, held, s, policy, budget) for s in seeds]
        out += [
            episode(c.id, t, held, s, with_say(policy, t.instruction), budget)
            for t in probes
            for s in seeds[: cfg.prompt.seeds]
        ]
    return out


def stage_eval(
    cfg: ExperimentConfig, paths: Paths, console: Console, progress: bool, gate=None
) -> dict[str, Any]:
    from eval.runner import run_eval

    eps = episodes(cfg, paths)
    res = run_eval(eps, paths.eval, workers=cfg.eval.workers, progress=progress, gate=gate)
    console.print(
        f"  eval: {res['ran']} episodes run, {res['skipped']} reused; {res['error']} errors, "
        f"{res['timeout']} timeouts"
    )
    return res


class CellsTrained:
    """The eval gate while cells train: an episode may run once its cell's checkpoint is finished (the
    expert's at once); more may come while the training thread lives."""

    def __init__(self, cfg: ExperimentConfig, paths: Paths, training) -> None:
        self.summaries = {c.id: paths.cell(c) / backends.SUMMARY for c in cfg.cells()}
        self.training = training

    def ready(self, ep) -> bool:
        summary = self.summaries.get(ep.suite)
        return summary is None or summary.exists()

    def waiting(self) -> bool:
        return self.training.is_alive()


def stage_finetune_and_eval(
    cfg: ExperimentConfig, paths: Paths, console: Console, progress: bool, timings: Timings
) -> None:
    """``eval.overlap``: fine-tuning in a thread (its progress as lines), each cell evaluated as soon as
    it is trained. Both stages are timed from the same start; a training error is raised after the
    episodes of the cells it finished have run."""
    import threading

    box: dict[str, Any] = {}
    t0 = time.perf_counter()

    def train() -> None:
        try:
            box["status"] = stage_finetune(cfg, paths, console, progress=False)
        except BaseException as e:
            box["error"] = e
        finally:
            box["wall_s"] = time.perf_counter() - t0

    training = threading.Thread(target=train, name="finetune", daemon=True)
    training.start()
    res = stage_eval(cfg, paths, console, progress, gate=CellsTrained(cfg, paths, training))
    training.join()
    if "error" in box:
        raise box["error"]
    timings.add("finetune", box["wall_s"], status=box["status"], overlapped=True)
    timings.add("eval", time.perf_counter() - t0, ran=res["ran"], reused=res["skipped"], overlapped=True)


def run(
    cfg: ExperimentConfig,
    out: Path,
    console: Console | None = None,
    progress: bool = True,
    stop_after: str | None = None,
) -> Path:
    """Run (or resume) the experiment in ``out``; returns the report's Markdown path. ``stop_after``
    ends after that stage (for stage-by-stage runs)."""
    from eval.experiments import analysis, report

    console = console or Console()
    paths = Paths(Path(out))
    check_tasks(cfg)
    _check_out(cfg, paths)
    timings = Timings(paths.timings)
    for stage in STAGES:
        if cfg.eval.overlap and stage in ("finetune", "eval"):
            if stage == "finetune":
                console.rule("[bold]finetune + eval (overlapped)")
                stage_finetune_and_eval(cfg, paths, console, progress, timings)
            if stage == stop_after:
                break
            continue
        console.rule(f"[bold]{stage}")
        with timings.stage(stage) as entry:
            if stage == "collect":
                stage_collect(cfg, paths, console, progress)
            elif stage == "pretrain":
                entry["status"] = stage_pretrain(cfg, paths, console, progress)
            elif stage == "finetune":
                entry["status"] = stage_finetune(cfg, paths, console, progress)
            elif stage == "eval":
                res = stage_eval(cfg, paths, console, progress)
                entry.update(ran=res["ran"], reused=res["skipped"])
            elif stage == "diagnostics":
                backends.write_json(paths.diagnostics, analysis.analyse(cfg, paths))
            else:
                md, page = report.write(cfg, paths)
                console.print(f"  wrote {md} and {page}")
        if stage == stop_after:
            break
    return paths.report / "report.md"
