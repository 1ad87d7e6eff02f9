"""``tandem chat``: the REPL (prompt_toolkit input, rich output, a live status bar)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from agent.cli.scene import LocomotionOpt, ManipulationOpt


def chat(
    seed: Annotated[int | None, typer.Option("--seed", help="scene randomization seed")] = 0,
    scene: Annotated[str, typer.Option("--scene", help="scene name or YAML path")] = "g1_lab",
    planner: Annotated[str, typer.Option("--planner", help="offline (recipes) or llm")] = "offline",
    manipulation: ManipulationOpt = "scripted",
    locomotion: LocomotionOpt = None,
) -> None:
    """Talk to the robot: type a task ("prepare elephant toothpaste"), corrections while it works
    ("use the left hand", "stop"), or /help for commands."""
    from rich.console import Console

    from agent.cli.errors import user_errors
    from agent.repl import Chat
    from envs.locomotion import PolicyError
    from envs.robots.g1.g1_model import AssetError
    from envs.scene_schema import SceneError
    from skills.policies.manipulation import recorded_locomotion

    console = Console(highlight=False)
    with user_errors(SceneError, AssetError, ValueError, FileNotFoundError, PolicyError):
        session = Chat(
            scene=scene,
            seed=seed,
            planner=planner,
            console=console,
            manipulation=manipulation,
            locomotion=locomotion or recorded_locomotion(manipulation),
        )
    console.print("[bold]tandem chat[/] — a task, a correction, or /help. Ctrl-D or /quit to leave.")
    if not sys.stdin.isatty():
        for line in sys.stdin:
            if not session.handle(line):
                break
        if session.thread is not None:
            session.thread.join()
        return

    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    from agent.records import runs_root

    runs_root().mkdir(parents=True, exist_ok=True)
    prompt = PromptSession(
        history=FileHistory(str(runs_root() / ".chat_history")),
        completer=WordCompleter(session.completions(), sentence=True),
        bottom_toolbar=lambda: f" {session.status_line()} ",
        refresh_interval=0.5,
    )
    with patch_stdout(raw=True):
        while True:
            try:
                line = prompt.prompt("tandem> ")
            except KeyboardInterrupt:
                session.handle("/abort")
                continue
            except EOFError:
                session.handle("/quit")
                break
            if not session.handle(line):
                break
