"""``tandem scene``: inspect and render the simulated lab."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.errors import user_errors

app = typer.Typer(
    help="Inspect and render a lab scene (embedded MuJoCo G1 lab by default).", no_args_is_help=True
)
console = Console()

SceneOpt = Annotated[
    str, typer.Option("--scene", help="shipped scene name (g1_lab, bench_block) or a scene YAML path")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="seed for object-pose randomization")]
ManipulationOpt = Annotated[
    str,
    typer.Option(
        "--manipulation",
        help="who runs pick/place: scripted, policy:CHECKPOINT_DIR or "
        "groot://HOST:PORT[?version=n1.5&token=T] (skills/policies/manipulation.py)",
    ),
]
LocomotionOpt = Annotated[
    str | None,
    typer.Option(
        "--locomotion",
        help="what moves the base: holonomic (base model, legs in stance) or walker[:PATH] (the learned "
        "G1 walking policy, or another .onnx/.yaml; docs/locomotion.md); default: where a policy:CKPT's "
        "demonstrations were recorded, else the scene's (walker in g1_lab)",
    ),
]


def _env(scene: str, seed: int | None, full_meshes: bool = False, locomotion: str | None = None):
    from envs.locomotion import PolicyError
    from envs.registry import make_scene
    from envs.robots.g1.g1_model import AssetError
    from envs.scene_schema import SceneError

    with user_errors(SceneError, AssetError, PolicyError, ValueError):
        return make_scene(
            scene, seed=seed, mesh_quality="full" if full_meshes else "decimated", locomotion=locomotion
        )


def scene_summary(env) -> dict:
    ws = env.world_state()
    sc = env.scene
    walks = getattr(env, "walker", None) is not None
    return {
        "scene": sc.name,
        "seed": env.seed,
        "base_mode": env.embodiment.base_mode,
        "locomotion": str(getattr(env, "locomotion", "")),
        "control_dt": env.control_dt,
        "stations": {
            name: {
                "robot_pose": list(st.robot_pose),
                "table_height": st.table.height,
                "description": st.description,
            }
            for name, st in sc.stations.items()
        },
        "objects": {
            name: {"type": o.type, "station": o.station, "pos": o.pos, "label": sc.objects[name].label}
            for name, o in ws.objects.items()
        },
        "containers": {
            name: {"contents_ml": c.contents_ml, "capacity_ml": c.capacity_ml}
            for name, c in ws.containers.items()
        },
        "joint_groups": {
            **{name: list(g.joints) for name, g in env.embodiment.groups.items()},
            **{alias: list(parts) for alias, parts in env.embodiment.aliases.items()},
            # Commanded as a velocity by the holonomic servo or a walker; a bare floating base stands.
            "base": ["vx", "vy", "yaw_rate"] if env.embodiment.base_mode == "holonomic" or walks else [],
        },
        "cameras": env.cameras,
    }


@app.command("info")
def info(
    scene: SceneOpt = "g1_lab",
    seed: SeedOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print JSON (keys: stations, objects, containers, joint_groups)")
    ] = False,
) -> None:
    """Stations, objects, containers and their contents, and the robot's joint groups."""
    env = _env(scene, seed)
    summary = scene_summary(env)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    console.print(
        f"[bold]{summary['scene']}[/] seed={seed} base={summary['base_mode']} "
        f"locomotion={summary['locomotion']} control_dt={env.control_dt}s"
    )
    t = Table("station", "robot pose (x, y, yaw°)", "table height", "description", title="stations")
    for name, st in summary["stations"].items():
        t.add_row(name, str(st["robot_pose"]), f"{st['table_height']:.2f} m", st["description"])
    console.print(t)
    t = Table("object", "type", "station", "position (m)", "contents", title="objects")
    for name, o in summary["objects"].items():
        c = summary["containers"].get(name)
        contents = ", ".join(f"{k} {v:.0f} ml" for k, v in c["contents_ml"].items()) if c else ""
        if c:
            contents = (contents or "empty") + f" / {c['capacity_ml']:.0f} ml"
        t.add_row(name, o["type"], o["station"] or "-", ", ".join(f"{v:.3f}" for v in o["pos"]), contents)
    console.print(t)
    t = Table("group", "joints", title="joint groups")
    for name, joints in summary["joint_groups"].items():
        t.add_row(name, ", ".join(joints))
    console.print(t)


@app.command("render")
def render(
    camera: Annotated[
        str,
        typer.Option(
            "--camera",
            help="ego (the G1's ego_view), third (third_person), follow (rides behind the G1), or any "
            "camera of the scene's model (left_wrist, right_wrist; front, wrist on so100_block)",
        ),
    ] = "third",
    scene: SceneOpt = "g1_lab",
    seed: SeedOpt = None,
    out: Annotated[Path, typer.Option("--out", help="PNG file to write")] = Path("lab.png"),
    width: Annotated[int, typer.Option(help="image width (px)")] = 640,
    height: Annotated[int, typer.Option(help="image height (px)")] = 480,
    full_meshes: Annotated[
        bool, typer.Option("--full-meshes", help="render the original meshes (slow on CPU)")
    ] = False,
) -> None:
    """Render one camera of a freshly reset scene to a PNG."""
    from envs.rendering import RenderingError, save_png
    from envs.rendering.cameras import camera_name

    env = _env(scene, seed, full_meshes)
    with user_errors(ValueError, RenderingError):
        name = camera_name(camera, env.cameras)
        frame = env.render(name, width, height, antialias=True)
    path = save_png(frame, out)
    console.print(f"wrote {path} ({width}x{height}, camera {name})")
