"""``tandem skills`` and ``tandem skill NAME``: list the skill library, run one skill in a fresh scene."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.errors import user_errors
from agent.cli.scene import LocomotionOpt, ManipulationOpt

console = Console()


def list_skills(
    as_json: Annotated[
        bool, typer.Option("--json", help="print the tool schemas the LLM planner uses")
    ] = False,
    scene: Annotated[
        str | None, typer.Option("--scene", help="restrict name arguments to this scene's names")
    ] = None,
) -> None:
    """The skill library: arguments, joint groups each call claims, default timeouts."""
    from skills.registry import all_skills, skill_schema

    names = None
    if scene is not None:
        from agent.cli.scene import _env
        from skills.spec import SceneNames

        names = SceneNames.from_world(_env(scene, None).world_state())
    if as_json:
        print(json.dumps([skill_schema(s, names) for s in all_skills()], indent=2))
        return
    t = Table("skill", "arguments", "claims", "timeout", "description", title="skills", show_lines=True)
    for s in all_skills():
        props = skill_schema(s).get("parameters", {}).get("properties", {})
        args = ", ".join(
            f"{k}{'' if 'default' not in v else '=' + str(v['default'])}" for k, v in props.items()
        )
        t.add_row(s.name, args, _claims(s), f"{s.timeout_s:.0f} s", s.description)
    console.print(t)


def _claims(spec) -> str:
    """The groups a call claims, shown for the right hand/arm where the skill takes one."""
    sides = {k: "right" for k in ("hand", "arm") if k in spec.args.model_fields}
    groups = spec.resources(spec.args.model_construct(**sides))
    return ", ".join(groups) + (" (per hand)" if sides else "") if groups else "-"


def _unreachable(env, rt, call):
    """The outcome of a call its skill finds out of reach from where the robot stands, else None."""
    from agent.outcome import UNREACHABLE, Outcome
    from skills.reach import Workspace
    from skills.symbolic import SymbolicState

    if call.spec.reachable is None:
        return None
    problems = call.spec.reachable(Workspace(env, rt.world), SymbolicState.from_world(rt.world), call.args)
    if not problems:
        return None
    t = round(rt.world.time_s, 4)
    return Outcome(
        call.id, call.spec.name, "failure", UNREACHABLE, t, t, call.raw_args, {"detail": "; ".join(problems)}
    )


def _parse_skill_args(extra: list[str]) -> dict[str, str]:
    """``--object red_block --hand=left`` -> {"object": "red_block", "hand": "left"}."""
    out: dict[str, str] = {}
    i = 0
    while i < len(extra):
        tok = extra[i]
        if not tok.startswith("--"):
            raise ValueError(f"unexpected argument '{tok}': skill arguments are --name value")
        key, eq, value = tok[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra):
                raise ValueError(f"--{key} needs a value")
            value = extra[i + 1]
            i += 1
        out[key.replace("-", "_")] = value
        i += 1
    return out


def _skill_help(ctx: typer.Context, name: str | None) -> None:
    """The command's help, then the named skill's own arguments (they are not typer options)."""
    from skills.registry import get_skill, skill_schema

    console.print(ctx.get_help())
    if name is None:
        return
    with user_errors(KeyError):
        spec = get_skill(name)
    params = skill_schema(spec).get("parameters", {})
    props = params.get("properties", {})
    described = any("description" in p for p in props.values())
    columns = ("argument", "values", "default", *(("description",) if described else ()))
    t = Table(*columns, title=f"{name} arguments", title_justify="left")
    for key, prop in props.items():
        values = " | ".join(map(str, prop["enum"])) if "enum" in prop else prop.get("type", "")
        default = "(required)" if key in params.get("required", []) else str(prop.get("default", ""))
        row = (f"--{key.replace('_', '-')}", values, default)
        t.add_row(*row, *((prop.get("description", ""),) if described else ()))
    console.print(spec.description, markup=False)
    console.print(t)


def run_skill(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="skill name (see `tandem skills`)")] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="scene randomization seed (default: drawn and recorded)")
    ] = None,
    scene: Annotated[str, typer.Option("--scene", help="scene name or YAML path")] = "g1_lab",
    video: Annotated[
        Path | None, typer.Option("--video", help="record a camera (--camera) to this MP4")
    ] = None,
    inject: Annotated[
        list[str] | None,
        typer.Option("--inject", help="fault, e.g. drop:hand=right,after=1 (repeatable; docs/runs.md)"),
    ] = None,
    camera: Annotated[
        str, typer.Option("--camera", help="camera for --video: third, ego or follow (rides behind the G1)")
    ] = "third",
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
    show_help: Annotated[
        bool, typer.Option("--help", "-h", help="show this message and the skill's arguments, then exit")
    ] = False,
    manipulation: ManipulationOpt = "scripted",
    locomotion: LocomotionOpt = None,
) -> None:
    """Run one skill in a fresh scene: `tandem skill pick --object red_block --hand right --seed 3`.

    Skill arguments follow as --name value; `tandem skill NAME --help` lists them.

    Exit code 0 on success, 1 on a failed skill, 2 on bad input.
    """
    if show_help:
        _skill_help(ctx, name)
        raise typer.Exit(0)
    from agent.cli.scene import _env
    from agent.faults import FaultError, parse_fault
    from agent.records import RunRecord
    from agent.runtime import Runtime
    from agent.session import draw_seed
    from envs.rendering import RenderingError
    from envs.rendering.cameras import camera_name
    from skills.policies.manipulation import recorded_locomotion
    from skills.policies.manipulation import resolve as resolve_manipulation
    from skills.registry import all_skills, get_skill

    with user_errors(ValueError, KeyError, FaultError):
        if name is None:
            raise ValueError(f"name a skill: {', '.join(s.name for s in all_skills())}")
        get_skill(name)
        args = _parse_skill_args(list(ctx.args))
        faults = [parse_fault(f) for f in inject or []]
    with user_errors(ValueError, FileNotFoundError):
        backend = resolve_manipulation(manipulation)
    drawn = seed is None
    seed = draw_seed() if seed is None else seed
    env = _env(scene, seed, locomotion=locomotion or recorded_locomotion(manipulation))
    writer = None
    if video is not None:  # one frame proves the camera and the renderer before the robot moves
        from envs.rendering import VideoWriter

        with user_errors(ValueError, RenderingError):
            cam = camera_name(camera, env.cameras)
            first = env.render(cam, 480, 360)
        writer = VideoWriter(video, fps=1.0 / (env.control_dt * 2))
        writer.append(first)
    record = RunRecord()
    rt = Runtime(env, faults=faults, manipulation=backend)
    rt.on_fault.append(lambda kind, data: record.event(kind, **data))
    with user_errors(ValueError, KeyError):
        call = rt.call("c1", name, args)
    record.event(
        "dispatch",
        call_id=call.id,
        skill=name,
        args=call.raw_args,
        seed=seed,
        scene=scene,
        faults=inject or [],
        manipulation=manipulation,
    )
    if writer is not None:
        rt.on_tick.append(lambda r: writer.append(env.render(cam, 480, 360)) if r.ticks % 2 == 0 else None)
    t0 = time.perf_counter()
    rejected = _unreachable(env, rt, call)
    # An unreachable call is rejected before the robot moves.
    outcomes = [rejected] if rejected is not None else rt.run_until_event()
    wall = time.perf_counter() - t0
    if writer is not None:
        writer.close()
    for o in outcomes:
        record.event("outcome", **o.to_dict())
    for fault in faults:
        why = fault.unused()
        if why is not None:
            record.event("fault_not_applicable", fault=fault._text, call_id=None, reason=why)
    out = next((o for o in outcomes if o.call_id == "c1"), None)
    result = {
        "skill": name,
        "args": call.raw_args,
        "status": out.status if out else "failure",
        "reason": out.reason if out else "undecided",
        "evidence": out.evidence if out else {},
        "sim_time_s": round(rt.world.time_s, 3),
        "wall_time_s": round(wall, 3),
        "seed": seed,
        "manipulation": manipulation,
        "run_id": record.run_id,
        "video": str(video) if video else None,
    }
    record.write_summary(result)
    record.close()
    if as_json:
        print(json.dumps(result))
    else:
        color = "green" if result["status"] == "success" else "red"
        shown = ", ".join(f"{k}={v}" for k, v in call.raw_args.items())
        console.print(f"[bold {color}]{result['status']}[/] {name}({shown}): {result['reason']}")
        evidence = ", ".join(f"{k}={v}" for k, v in result["evidence"].items())
        console.print(f"  evidence: {evidence or '-'}", markup=False, highlight=False)
        console.print(
            f"  sim {result['sim_time_s']} s, wall {result['wall_time_s']} s, record runs/{record.run_id}"
        )
        if drawn:
            console.print(f"  seed {seed} (drawn; --seed {seed} repeats this call)")
    if result["status"] != "success":
        raise typer.Exit(1)
