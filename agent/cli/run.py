"""``tandem run "TASK"``: plan and execute a task in the embedded lab, with a live view and a record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from agent.cli.errors import user_errors

console = Console()
EXIT = {"success": 0, "not_understood": 2, "invalid_plan": 2}


def run(
    task: Annotated[
        str | None, typer.Argument(help='the request, e.g. "prepare elephant toothpaste"')
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="scene randomization seed")] = None,
    scene: Annotated[str, typer.Option("--scene", help="scene name or YAML path")] = "g1_lab",
    inject: Annotated[
        list[str] | None,
        typer.Option("--inject", help="fault, e.g. drop:hand=right,during=walk_to,after=1 (repeatable)"),
    ] = None,
    video: Annotated[Path | None, typer.Option("--video", help="record a camera to this MP4")] = None,
    camera: Annotated[str, typer.Option("--camera", help="camera for --video: third or ego")] = "third",
    resume: Annotated[
        str | None, typer.Option("--resume", help="continue a killed run from its last checkpoint")
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
    manipulation: Annotated[
        str,
        typer.Option(
            "--manipulation",
            help="who runs pick/place: scripted, policy:CHECKPOINT_DIR or groot://HOST:PORT[?version=n1.5&token=T]",
        ),
    ] = "scripted",
) -> None:
    """Plan a task with the planner (offline recipes by default) and run it on the simulated G1.

    Exit code 0: success; 1: the task failed; 2: not understood or bad input. Every run writes
    runs/RUN_ID/ (checkpoints, events.jsonl, summary.json).
    """
    from agent.faults import FaultError
    from agent.session import RunConfig, RunSession
    from envs.robots.g1.g1_model import AssetError
    from envs.scene_schema import SceneError

    with user_errors(SceneError, AssetError, FaultError, FileNotFoundError, ValueError):
        if resume:
            session = RunSession.resume(resume)
        else:
            if not task or not task.strip():
                raise ValueError('give a task, e.g. tandem run "prepare elephant toothpaste"')
            llm_options = {
                "llm": llm,
                "mode": llm_mode,
                "base_url": base_url,
                "timeout_s": llm_timeout,
                "temperature": temperature,
                "prompt": str(prompt) if prompt else None,
                "replan_prompt": str(replan_prompt) if replan_prompt else None,
                "fallback": fallback,
            }
            options = {k: v for k, v in llm_options.items() if v is not None}
            if llm and llm.startswith("replay:") and seed is None:  # replay the recorded scene
                meta = Path(llm[len("replay:") :]) / "meta.json"
                seed = json.loads(meta.read_text()).get("seed") if meta.is_file() else None
            session = RunSession(
                RunConfig(
                    goal=task,
                    scene=scene,
                    seed=seed,
                    faults=inject or [],
                    planner="llm" if llm or planner == "llm" else planner,
                    planner_options=options,
                    manipulation=manipulation,
                )
            )
    writer = None
    if video is not None:
        from envs.rendering import VideoWriter

        cam = {"third": "third_person", "ego": "ego_view"}.get(camera, camera)
        writer = VideoWriter(video, fps=1.0 / (session.env.control_dt * 4))
        session.system_one.on_tick.append(
            lambda rt: writer.append(session.env.render(cam, 480, 360)) if rt.ticks % 4 == 0 else None
        )
    try:
        if as_json:
            summary = session.continue_run() if resume else session.run()
        else:
            from agent.live import LiveView

            view = LiveView(session.cfg.goal)
            session.listeners.append(view)
            session.system_one.on_tick.append(
                lambda rt: view.tick(rt.world.time_s) if rt.ticks % 10 == 0 else None
            )
            with Live(view, console=console, refresh_per_second=8, transient=False):
                summary = session.continue_run() if resume else session.run()
    finally:
        if writer is not None:
            writer.close()
        session.close()
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        print_summary(summary)
    raise typer.Exit(EXIT.get(summary["status"], 1))


def print_summary(s: dict[str, Any]) -> None:
    console.print()  # the live panel leaves the cursor on its last line
    color = "green" if s["success"] else "red"
    console.print(f"[bold {color}]{s['status']}[/]: {s['message']}")
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
        t.add_row(key, str(s.get(key)))
    t.add_row(
        "steps",
        f"{sum(o['status'] == 'success' for o in s['outcomes'])} succeeded, "
        f"{sum(o['status'] == 'failure' for o in s['outcomes'])} failed",
    )
    console.print(t)
