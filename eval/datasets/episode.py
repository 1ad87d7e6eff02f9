"""One demonstration: reset the task's scene with the episode's seed and perturbations, run the expert
through the normal Runtime (monitors judge every call), judge the task's predicates, record it.

A task with a scripted whole-task ``expert`` (the SO-100 arm, which has no skill library) runs that
executor directly on the env from the registry, then holds still ``SETTLE_S`` before the judging.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs.predicates import evaluate
from eval.datasets.layout import layout_for_scene
from eval.datasets.recorder import Recorder
from eval.datasets.writer import EpisodeData
from skills.tasks import TaskSpec, load_task
from skills.tasks.sampling import STREAM, expert_of, sample_perturbations

SETTLE_S = 0.5  # a scripted expert's episode ends this long after its last motion, still recorded


@dataclass
class EpisodeEnv:
    """A built env for a task's scene, reused across episodes, and its scene-jitter applier."""

    env: Any
    jitter: Any  # None for scripted-expert scenes: they vary by their seeded poses only

    @classmethod
    def build(cls, task: TaskSpec) -> EpisodeEnv:
        if task.expert is not None:
            from envs.registry import make_scene

            return cls(make_scene(task.scene, seed=0), None)
        from envs.lab.env import G1LabEnv
        from envs.lab.variation import SceneJitter

        env = G1LabEnv(scene=task.scene_config(), seed=0, locomotion=task.locomotion)
        return cls(env, SceneJitter(env))


_ENVS: dict[str, EpisodeEnv] = {}


def env_for(task: TaskSpec) -> EpisodeEnv:
    """The process's env for this task's scene (built once per scene and distractor set)."""
    e = _ENVS.get(task.scene_key)
    if e is None:
        e = _ENVS[task.scene_key] = EpisodeEnv.build(task)
    return e


def perturbations_for(e: EpisodeEnv, task: TaskSpec, seed: int, vary: bool, paraphrase: bool) -> dict:
    if e.jitter is None:
        rng = np.random.default_rng([seed, STREAM])
        phrasings = task.phrasings
        instruction = phrasings[int(rng.integers(len(phrasings)))] if paraphrase else task.instruction
        return {"seed": seed, "instruction": instruction, "aside": []}
    m = e.env.model
    rgba = {n: m.geom_rgba[m.geom(n).id].tolist() for n in task.scene_config().objects}
    return sample_perturbations(
        task, seed, list(e.env.embodiment.cameras), e.jitter.lights, rgba, vary=vary, paraphrase=paraphrase
    )


def reset(e: EpisodeEnv, seed: int, p: dict[str, Any]):
    """The episode's starting world: poses from the seed, then the recorded scene perturbations."""
    obs = e.env.reset(seed)
    if e.jitter is not None:
        e.jitter.apply(cameras=p["cameras"], lighting=p["lighting"], colours=p["colours"], aside=p["aside"])
    return obs


def judge(task: TaskSpec, world, start) -> tuple[bool, list[str]]:
    """The task's success predicates on the final world (``start``: the world the episode began in)."""
    ok, details = True, []
    for check in task.success:
        good, detail = evaluate(world, check.predicate, check.params, start=start)
        ok &= good
        details.append(f"{check.predicate}: {detail}")
    return ok, details


@dataclass
class EpisodeResult:
    task: str
    seed: int
    success: bool
    reason: str
    data: EpisodeData | None
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    sim_s: float = 0.0
    wall_s: float = 0.0
    render_s: float = 0.0
    error: str | None = None


def record_episode(
    task_name: str,
    seed: int,
    *,
    fps: int,
    image_size: int,
    cameras: list[str],
    video_dir: Path,
    vary: bool = True,
    paraphrase: bool = False,
    locomotion: str | None = None,
) -> EpisodeResult:
    """Run and record one episode in this process (on ``locomotion``, else the task's). Never raises for
    an episode's own failure."""
    from agent.runtime import Runtime
    from skills.controllers.variation import expert_variation

    task = load_task(task_name, locomotion)
    e = env_for(task)
    p = perturbations_for(e, task, seed, vary, paraphrase)
    obs = reset(e, seed, p)
    world = e.env.world_state()
    p["object_poses"] = {
        n: [*o.pos, round(float(_yaw(o.quat)), 5)] for n, o in world.objects.items() if n not in p["aside"]
    }
    rec = Recorder(e.env, fps, cameras, image_size, video_dir, f"{task.name}-{seed}")
    if task.expert is not None:
        return _record_scripted(task, e, seed, p, obs, world, rec)
    rt = Runtime(e.env)
    t0 = time.perf_counter()
    error = None
    try:
        rec.attach(rt)
        with expert_variation(expert_of(p)):
            prev: list[str] = []
            for i, call in enumerate(task.calls):
                cid = f"{i}_{call.skill}"
                rt.call(cid, call.skill, call.args, after=prev)
                prev = [cid]
            rt.run_until_event(max_sim_s=task.max_sim_s)
        arrays = rec.finish()
    except Exception:
        rec.abort()
        error = traceback.format_exc()
        arrays = None
    wall = time.perf_counter() - t0
    outcomes = [
        {"call": o.call_id, "skill": o.skill, "status": o.status, "reason": o.reason} for o in rt.outcomes
    ]
    calls_ok = len(outcomes) == len(task.calls) and all(o["status"] == "success" for o in outcomes)
    ok, details = judge(task, rt.world, world)
    success = error is None and calls_ok and ok
    failed = next((o for o in outcomes if o["status"] != "success"), None)
    if error is not None:
        reason = f"error: {error.strip().splitlines()[-1]}"
    elif failed is not None:
        reason = f"{failed['skill']}: {failed['reason']}"
    elif not calls_ok:
        reason = "not every call was decided within max_sim_s"
    else:
        reason = "; ".join(details)
    return _result(task, seed, p, rec, arrays, success, reason, error, rt.world.time_s, wall, outcomes)


def run_scripted(task: TaskSpec, env, obs, world, on_tick=None) -> tuple[Any, bool]:
    """Run the task's scripted expert: ``run_whole_task`` with it."""
    from skills.controllers.experts import get_expert

    return run_whole_task(get_expert(task.expert)(env), env, obs, world, task.max_sim_s, on_tick)


def run_whole_task(executor, env, obs, world, max_sim_s: float, on_tick=None) -> tuple[Any, bool]:
    """Run a whole-task executor (a scripted expert, or a policy on a robot without skills) until it is
    finished and ``SETTLE_S`` more (or ``max_sim_s``, or a policy's error), calling
    ``on_tick(ticks, obs, world)`` after every step; returns the final world and whether it finished."""
    executor.reset(obs, world)
    limit = round(max_sim_s / env.control_dt)
    settle = round(SETTLE_S / env.control_dt)
    ticks = 0
    while ticks < limit and settle > 0 and getattr(executor, "error", None) is None:
        if executor.finished:
            settle -= 1
        obs = env.step(executor.act(obs, world))  # a finished executor commands nothing: targets hold
        world = env.world_state()
        ticks += 1
        if on_tick is not None:
            on_tick(ticks, obs, world)
    return world, executor.finished


def _record_scripted(task: TaskSpec, e: EpisodeEnv, seed: int, p: dict, obs, start, rec: Recorder):
    """Run the task's scripted expert on the env, recording every tick."""
    world, finished = start, False
    t0 = time.perf_counter()
    error = None
    try:
        rec.begin(0, obs)
        world, finished = run_scripted(task, e.env, obs, start, lambda ticks, obs, _: rec.tick(ticks, obs))
        arrays = rec.finish()
    except Exception:
        rec.abort()
        error = traceback.format_exc()
        arrays = None
    ok, details = judge(task, world, start)
    success = error is None and finished and ok and world.unstable is None
    if error is not None:
        reason = f"error: {error.strip().splitlines()[-1]}"
    elif not finished:
        reason = f"expert {task.expert} did not finish within max_sim_s ({task.max_sim_s} s)"
    elif world.unstable is not None:
        reason = f"unstable: {world.unstable}"
    else:
        reason = "; ".join(details)
    wall = time.perf_counter() - t0
    return _result(task, seed, p, rec, arrays, success, reason, error, world.time_s, wall, [])


def _result(
    task: TaskSpec,
    seed: int,
    p: dict,
    rec: Recorder,
    arrays: dict | None,
    success: bool,
    reason: str,
    error: str | None,
    sim_s: float,
    wall_s: float,
    outcomes: list[dict[str, Any]],
) -> EpisodeResult:
    """An episode's result, with its recorded data (absent when recording broke off)."""
    data = None
    if arrays is not None:
        data = EpisodeData(
            instruction=p["instruction"],
            state=arrays["state"],
            action=arrays["action"],
            base_velocity=arrays["base_velocity"] if layout_for_scene(task.scene).base_velocity else None,
            videos=arrays["videos"],
            image_stats=arrays["image_stats"],
            extras={
                "task_name": task.name,
                "seed": seed,
                "success": success,
                "reason": reason,
                "outcomes": outcomes,
                "sim_time_s": round(sim_s, 4),
                "perturbations": p,
                **({} if task.expert else {"locomotion": task.locomotion}),
            },
        )
    return EpisodeResult(
        task=task.name,
        seed=seed,
        success=success,
        reason=reason,
        data=data,
        outcomes=outcomes,
        sim_s=sim_s,
        wall_s=wall_s,
        render_s=rec.render_s,
        error=error,
    )


def _yaw(quat: list[float]) -> float:
    import math

    w, x, y, z = quat
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
