"""The chat REPL: type tasks, corrections and commands while the robot works.

A task runs in a background thread (one RunSession per task on one persistent env, so the world
carries over between turns); the prompt stays live. Corrections ("use the left hand") stop the
current plan and re-plan the last task with the correction from the world as it is; "again, ..."
resets the scene first. Approval (``/approve on``) pauses each plan at the graph's approve node.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from agent.live import LiveView
from agent.records import runs_root
from agent.session import RunConfig, RunSession

COMMANDS = {
    "/plan": "show the current plan with each step's status",
    "/status": "what is running, sim time, the world in short",
    "/abort": "stop the current plan at the next control tick",
    "/approve on|off": "ask for approval of each plan before it runs",
    "/scene": "render the ego and third-person cameras to PNG files",
    "/reset [seed]": "reset the lab (optionally with a new seed)",
    "/runs": "list recent run records",
    "/help": "this help",
    "/quit": "leave (also Ctrl-D)",
}
STOP_WORDS = {"stop", "abort", "halt", "cancel"}
# A line that modifies the last task rather than naming a new one.
FOLLOW_UP = re.compile(
    r"^(again|use|with|but|now|instead|also|actually|and|this time)\b|^\d+\s*ml\b", re.IGNORECASE
)
AGAIN = re.compile(r"^again\b[\s,]*(but\s+)?", re.IGNORECASE)


class Chat:
    def __init__(
        self,
        scene: str = "g1_lab",
        seed: int | None = 0,
        planner: str = "offline",
        planner_options: dict[str, Any] | None = None,
        console: Console | None = None,
        manipulation: str = "scripted",
    ) -> None:
        from envs.registry import make_scene
        from skills.policies.manipulation import resolve

        resolve(manipulation)  # a bad backend fails when the chat starts, not at the first task
        self.manipulation = manipulation

        self.console = console or Console()
        self.scene, self.seed, self.planner = scene, seed, planner
        self.planner_options = planner_options or {}
        self.env = make_scene(scene, seed=seed)
        self.approval = False
        self.last_goal: str | None = None
        self.session: RunSession | None = None
        self.view: LiveView | None = None
        self.thread: threading.Thread | None = None
        self.awaiting: RunSession | None = None  # a session stopped for approval
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- input
    def handle(self, line: str) -> bool:
        """Act on one line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self._command(line)
        if self.awaiting is not None:
            self._answer(line)
            return True
        if line.lower() in STOP_WORDS:
            self._abort(wait=True, say=True)
            return True
        if self.last_goal and FOLLOW_UP.match(line):
            again = AGAIN.match(line)
            rest = line[again.end() :] if again else line
            goal = f"{self.last_goal} {rest}".strip()
            self.console.print(f"[cyan]correction:[/] {goal}")
            self._abort(wait=True, say=bool(self.running))
            if again:
                self.env.reset(seed=self.seed)
            self.start(goal)
            return True
        self._abort(wait=True, say=bool(self.running))
        self.start(line)
        return True

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _command(self, line: str) -> bool:
        cmd, *args = line.split()
        if cmd in ("/quit", "/exit"):
            self._abort(wait=True, say=False)
            return False
        if cmd == "/help":
            for name, text in COMMANDS.items():
                self.console.print(f"  {name:16} {text}", markup=False)
            self.console.print("  anything else is a task, a correction of the last one, or 'stop'")
        elif cmd == "/plan":
            self.console.print(self.view if self.view else "no plan yet")
        elif cmd == "/status":
            self.console.print(self.status_line())
            self.console.print(self.world_summary())
        elif cmd == "/abort":
            self._abort(wait=True, say=True)
        elif cmd == "/approve":
            if args and args[0] in ("on", "off"):
                self.approval = args[0] == "on"
            self.console.print(f"approval of each plan: {'on' if self.approval else 'off'}")
        elif cmd == "/scene":
            self.console.print(self.render_scene())
        elif cmd == "/reset":
            self._abort(wait=True, say=False)
            if args:
                self.seed = int(args[0]) if args[0].lstrip("-").isdigit() else self.seed
            self.env.reset(seed=self.seed)
            self.console.print(f"lab reset (seed {self.seed})")
        elif cmd == "/runs":
            self._list_runs()
        else:
            self.console.print(f"[red]unknown command {cmd}[/]; /help lists them")
        return True

    def _list_runs(self) -> None:
        root = runs_root()
        dirs = sorted(
            (d for d in root.glob("run-*") if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True
        )
        for d in dirs[:10]:
            summary = d / "summary.json"
            status = json.loads(summary.read_text()).get("status", "?") if summary.exists() else "unfinished"
            self.console.print(f"  {d.name}  {status}")

    # ----------------------------------------------------------------- running
    def start(self, goal: str) -> None:
        self.last_goal = goal
        cfg = RunConfig(
            goal=goal,
            scene=self.scene,
            seed=self.seed,
            planner=self.planner,
            planner_options=dict(self.planner_options),
            manipulation=self.manipulation,
        )
        session = RunSession(cfg, env=self.env, reset_env=False)
        self.view = LiveView(goal)
        session.listeners.append(self.view)
        session.listeners.append(self._narrate)
        session.system_one.on_tick.append(
            lambda rt: self.view.tick(rt.world.time_s) if rt.ticks % 10 == 0 else None
        )
        self.session = session
        self.console.print(f"[bold]task:[/] {goal}  [dim](run {session.run_id})[/]")
        self._spawn(lambda: session.run(approval=self.approval), session)

    def _spawn(self, work: Callable[[], dict[str, Any]], session: RunSession) -> None:
        def target() -> None:
            try:
                summary = work()
            except Exception as e:  # the REPL must survive a failing run
                self.console.print(f"[red]run crashed:[/] {type(e).__name__}: {e}")
                return
            if summary["status"] == "awaiting_approval":
                self.awaiting = session
                self.console.print(self.view)
                self.console.print("[bold yellow]approve this plan? (y/n)[/]")
                return
            session.close()
            color = "green" if summary["success"] else "red"
            self.console.print(
                f"[bold {color}]{summary['status']}[/]: {summary['message']}  "
                f"[dim](sim {summary['sim_time_s']} s, wall {summary['wall_time_s']} s)[/]"
            )

        self.thread = threading.Thread(target=target, daemon=True, name="tandem-run")
        self.thread.start()

    def _answer(self, line: str) -> None:
        session, self.awaiting = self.awaiting, None
        assert session is not None
        approved = line.strip().lower() in ("y", "yes", "ok", "approve", "go")
        self.console.print("approved" if approved else "not approved")
        self._spawn(lambda: session.answer(approved), session)

    def _abort(self, wait: bool, say: bool) -> None:
        if self.awaiting is not None:
            self.awaiting.close()
            self.awaiting = None
        if self.session is not None and self.running:
            self.session.abort()
            if say:
                self.console.print("[yellow]stopping the current plan[/]")
            if wait and self.thread is not None:
                self.thread.join(timeout=60)

    def _narrate(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "plan":
            steps = data["plan"]["steps"]
            self.console.print(
                f"[cyan]plan v{data['version']}[/] ({len(steps)} steps): "
                + " → ".join(f"{s['skill']}" for s in steps)
            )
        elif kind == "outcome" and data["status"] == "failure":
            self.console.print(f"[red]  {data['skill']} failed: {data['reason']}[/]")
        elif kind == "decision" and data["decision"] not in ("continue", "finish"):
            self.console.print(f"[cyan]  decision: {data['decision']}[/]")
        elif kind == "reply":
            self.console.print(f"[yellow]{data['message']}[/]")

    # ----------------------------------------------------------------- views
    def status_line(self) -> str:
        if self.awaiting is not None:
            return "waiting for your approval (y/n)"
        if not self.running or self.view is None:
            return "idle"
        active = [sid for sid, st in self.view.status.items() if st == "running"]
        done = sum(st == "success" for st in self.view.status.values())
        steps = f"{done}/{len(self.view.status)} steps"
        return f"running: {', '.join(active) or 'planning'} | {steps} | sim {self.view.sim_time:.1f} s"

    def world_summary(self) -> str:
        w = self.env.world_state()
        held = ", ".join(f"{h}: {o}" for h, o in w.robot.holding.items() if o) or "nothing"
        filled = ", ".join(f"{n} {c.total_ml:.0f} ml" for n, c in w.containers.items() if c.total_ml > 0.5)
        fired = ", ".join(f"{r.reaction} in {r.container}" for r in w.reactions) or "none"
        return (
            f"robot at {w.robot.station or 'no station'}, holding {held}; containers: {filled}; "
            f"reactions: {fired}; spilled {w.spilled_ml:.1f} ml"
        )

    def render_scene(self) -> str:
        from envs.rendering import save_png

        out = runs_root() / "scene"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        paths = []
        with self._lock:
            for cam, short in (("ego_view", "ego"), ("third_person", "third")):
                frame = self.env.render(cam, 640, 480, antialias=True)
                paths.append(save_png(frame, out / f"{stamp}-{short}.png"))
        return "\n".join(str(Path(p)) for p in paths)

    def completions(self) -> list[str]:
        w = self.env.world_state()
        words = [c.split()[0] for c in COMMANDS] + ["on", "off", "stop"]
        words += [*w.objects, *w.stations, "left hand", "right hand", "prepare elephant toothpaste"]
        return words
