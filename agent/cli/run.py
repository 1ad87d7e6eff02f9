"""``tandem run "TASK"``: plan and execute a task in the embedded lab, with a live view and a record."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agent.cli.errors import err_console, user_errors
from agent.cli.scene import LocomotionOpt, ManipulationOpt

console = Console()
# 3: every step succeeded but the plan named no goal to check on the world (LLM plans): not a success.
EXIT = {"success": 0, "not_understood": 2, "declined": 2, "invalid_plan": 2, "completed_unchecked": 3}


def run(
    task: Annotated[
        str | None, typer.Argument(help='the request, e.g. "prepare elephant toothpaste"')
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="scene randomization seed (default: drawn and recorded)")
    ] = None,
    scene: Annotated[str, typer.Option("--scene", help="scene name or YAML path")] = "g1_lab",
    inject: Annotated[
        list[str] | None,
        typer.Option(
            "--inject",
            help="fault, e.g. drop:hand=right,during=walk_to,when=holding (repeatable; docs/runs.md)",
        ),
    ] = None,
    video: Annotated[Path | None, typer.Option("--video", help="record a camera to this MP4")] = None,
    camera: Annotated[
        str, typer.Option("--camera", help="camera for --video: third, ego or follow (rides behind the G1)")
    ] = "third",
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume", help="continue a killed run (its id or a unique prefix) from its last checkpoint"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print a machine-readable summary instead of the live view")
    ] = False,
    planner: Annotated[str, typer.Option("--planner", help="offline (recipes) or llm")] = "offline",
    llm: Annotated[
        str | None, typer.Option("--llm", help="MODEL, or replay:RUN_DIR (implies --planner llm)")
    ] = None,
    llm_mode: Annotated[
        str | None, typer.Option("--llm-mode", help="auto, json_schema, tools or json (default auto)")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint (env OPENAI_BASE_URL)")
    ] = None,
    llm_timeout: Annotated[float | None, typer.Option("--llm-timeout", help="seconds per request")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="LLM temperature")] = None,
    prompt: Annotated[Path | None, typer.Option("--prompt", help="system prompt template file")] = None,
    replan_prompt: Annotated[
        Path | None, typer.Option("--replan-prompt", help="replan prompt template file")
    ] = None,
    fallback: Annotated[
        str | None, typer.Option("--fallback", help="offline (default) or none, when the LLM fails")
    ] = None,
    manipulation: ManipulationOpt = "scripted",
    locomotion: LocomotionOpt = None,
) -> None:
    """Plan a task with the planner (offline recipes by default) and run it on the simulated G1.

    Exit code 0: success; 1: the task failed; 2: not understood, declined (a negated or contrary
    request) or bad input; 3: completed, goal unchecked (no goal predicate to check). Every run writes
    runs/RUN_ID/ (checkpoints, events.jsonl, summary.json).
    """
    from agent.faults import FaultError, parse_fault
    from agent.live import LiveView
    from agent.records import find_run, finished, read_summary, runs_root
    from agent.session import RunConfig, RunSession
    from envs.locomotion import PolicyError
    from envs.rendering import RenderingError
    from envs.rendering.cameras import SHORT
    from envs.robots.g1.g1_model import AssetError
    from envs.scene_schema import SceneError
    from skills.policies.manipulation import recorded_locomotion

    errors = (SceneError, AssetError, FaultError, FileNotFoundError, ValueError, RenderingError, PolicyError)
    with user_errors(*errors):
        if video is not None and camera not in SHORT and camera not in SHORT.values():
            raise ValueError(f"unknown camera '{camera}'; cameras: {', '.join(SHORT)}")
        if resume:
            resume = find_run(resume)
            cfg = None
            recorded = read_summary(runs_root() / resume)
            if finished(recorded):  # say so and touch nothing: not even the event log
                _already_finished(resume, recorded, as_json)
        else:
            if not task or not task.strip():
                raise ValueError('give a task, e.g. tandem run "prepare elephant toothpaste"')
            for f in inject or []:
                parse_fault(f)  # a bad fault is refused before anything loads
            if llm and llm.startswith("replay:") and seed is None:  # replay the recorded scene
                meta = Path(llm[len("replay:") :]) / "meta.json"
                seed = json.loads(meta.read_text()).get("seed") if meta.is_file() else None
            cfg = RunConfig(
                goal=task,
                scene=scene,
                seed=seed,
                faults=inject or [],
                planner="llm" if llm or planner == "llm" else planner,
                planner_options=_llm_options(
                    llm, llm_mode, base_url, llm_timeout, temperature, prompt, replan_prompt, fallback
                ),
                manipulation=manipulation,
                locomotion=locomotion or recorded_locomotion(manipulation),
            )
    view = None if as_json else LiveView(cfg.goal if cfg else f"resuming {resume}")
    live = Live(view, console=console, refresh_per_second=8, transient=False) if view else nullcontext()
    session = None
    writer = None
    try:
        with live:
            with user_errors(*errors):
                progress = view.starting if view else None
                session = (
                    RunSession.resume(resume, progress=progress)
                    if resume
                    else RunSession(cfg, progress=progress)
                )
                if video is not None:  # one frame proves the camera and the renderer before planning
                    writer = _video(session, video, camera)
            if view is not None:
                view.goal, view.seed = session.cfg.goal, session.cfg.seed
                session.listeners.append(view)
                session.system_one.on_tick.append(
                    lambda rt: view.tick(rt.world.time_s) if rt.ticks % 10 == 0 else None
                )
                view.starting(_understanding(session.cfg.planner))
            session.listeners.append(_fallback_note)
            if not as_json and seed is None and not resume:
                console.print(f"seed {session.cfg.seed} (drawn; --seed {session.cfg.seed} repeats this run)")
            summary = session.continue_run() if resume else session.run()
    except KeyboardInterrupt:
        again = f"; `tandem run --resume {session.run_id}` continues it" if session is not None else ""
        err_console.print(f"interrupted{again}", markup=False, highlight=False)
        raise typer.Exit(130) from None
    finally:
        if writer is not None:
            writer.close()
        if session is not None:
            session.close()
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        print_summary(summary)
    raise typer.Exit(EXIT.get(summary["status"], 1))


def _llm_options(
    llm, mode, base_url, timeout, temperature, prompt, replan_prompt, fallback
) -> dict[str, Any]:
    options = {
        "llm": llm,
        "mode": mode,
        "base_url": base_url,
        "timeout_s": timeout,
        "temperature": temperature,
        "prompt": str(prompt) if prompt else None,
        "replan_prompt": str(replan_prompt) if replan_prompt else None,
        "fallback": fallback,
    }
    return {k: v for k, v in options.items() if v is not None}


def _understanding(planner: str) -> str:
    if planner == "offline":
        return "understanding the request (loading the sentence model takes ~10 s)"
    return "asking the LLM for a plan"


def _fallback_note(kind: str, data: dict[str, Any]) -> None:
    """Say on stderr that the LLM was not used: a user must never mistake a recipe plan for the model's."""
    if kind == "planner_fallback":
        err_console.print(
            f"note: the LLM planner is unavailable ({data.get('reason', '')}); "
            "planning with the offline recipes",
            style="yellow",
            markup=False,
            highlight=False,
        )


def _video(session, path: Path, camera: str):
    """A video writer fed every 4th control tick, after one frame proved the camera and the renderer work."""
    from envs.rendering import VideoWriter
    from envs.rendering.cameras import camera_name

    env = session.env
    cam = camera_name(camera, env.cameras)
    first = env.render(cam, 480, 360)
    writer = VideoWriter(path, fps=1.0 / (env.control_dt * 4))
    writer.append(first)
    session.system_one.on_tick.append(
        lambda rt: writer.append(env.render(cam, 480, 360)) if rt.ticks % 4 == 0 else None
    )
    return writer


def _already_finished(run_id: str, summary: dict[str, Any], as_json: bool) -> None:
    """``--resume`` of an ended run: say so, print its summary as recorded, change nothing."""
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        err_console.print(
            f"run {run_id} has already finished ({summary['status']}: {summary.get('message', '')}); "
            "nothing to resume, its record is unchanged",
            markup=False,
            highlight=False,
        )
    raise typer.Exit(EXIT.get(summary["status"], 1))


def print_summary(s: dict[str, Any]) -> None:
    console.print()  # the live panel leaves the cursor on its last line
    color = "green" if s["success"] else "red"
    console.print(f"[bold {color}]{s['status']}[/]: {escape(s['message'] or '')}")
    t = Table(show_header=False, box=None)
    for key in (
        "run_id",
        "goal",
        "understood_as",
        "plan_versions",
        "retries",
        "replans",
        "sim_time_s",
        "wall_time_s",
        "spilled_ml",
    ):
        value = s.get(key)
        t.add_row(key, Text("-" if value is None or value == "" else str(value)))  # Text: no markup
    t.add_row(
        "steps",
        f"{sum(o['status'] == 'success' for o in s['outcomes'])} succeeded, "
        f"{sum(o['status'] == 'failure' for o in s['outcomes'])} failed",
    )
    console.print(t)
