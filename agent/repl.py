"""The chat REPL: type tasks, corrections and commands while the robot works.

A task runs in a background thread (one RunSession per task on one persistent env, so the world
carries over between turns); the prompt stays live. Corrections ("use the left hand") stop the
current plan and re-plan the last task with the correction from the world as it is; "again, ..."
resets the scene first. Approval (``/approve on``) pauses each plan at the graph's approve node.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from agent.live import LiveView
from agent.records import is_run, run_state, runs_root
from agent.session import RunConfig, RunSession
from planner.meaning import contrary

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
YES, NO = {"y", "yes", "ok", "approve", "go"}, {"n", "no", "reject"}
# What a correction sets; a later correction of the same kind replaces the earlier one.
CORRECTION_KINDS = {
    "hand": re.compile(r"\b(left|right|both)\b|\bhands?\b", re.IGNORECASE),
    "volume": re.compile(r"\d+(\.\d+)?\s*ml\b", re.IGNORECASE),
}
END = "run ended"  # starts the one line that closes every run in chat (tests and people wait on it)


def compose(task: str, corrections: list[str], new: str) -> list[str]:
    """The corrections in force after ``new``: it replaces an equal one or one of the same kind."""
    new = new.strip().rstrip(".")
    kinds = {k for k, rx in CORRECTION_KINDS.items() if rx.search(new)}
    kept = [
        c
        for c in corrections
        if c.lower() != new.lower() and not any(CORRECTION_KINDS[k].search(c) for k in kinds)
    ]
    return kept + ([new] if new and new.lower() not in task.lower() else [])


class Chat:
    def __init__(
        self,
        scene: str = "g1_lab",
        seed: int | None = 0,
        planner: str = "offline",
        planner_options: dict[str, Any] | None = None,
        console: Console | None = None,
        manipulation: str = "scripted",
        locomotion: str | None = None,
    ) -> None:
        from envs.registry import make_scene
        from skills.policies.manipulation import resolve

        resolve(manipulation)  # a bad backend fails when the chat starts, not at the first task
        self.manipulation = manipulation

        self.console = console or Console()
        self.scene, self.seed, self.planner = scene, seed, planner
        self.planner_options = planner_options or {}
        if seed is None:
            from agent.session import draw_seed

            seed = self.seed = draw_seed()
        self.locomotion = locomotion
        self.env = make_scene(scene, seed=seed, locomotion=locomotion)
        self.approval = False
        self.task: str | None = None  # the last request as typed, before corrections
        self.corrections: list[str] = []
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
        if self.awaiting is not None and line.lower() in YES | NO:
            self._answer(line.lower() in YES)
            return True
        said = contrary(line)
        if line.lower() in STOP_WORDS or (said is not None and said.kind == "stop" and self.running):
            self._abort(wait=True, say=True)
            return True
        if self.task and FOLLOW_UP.match(line):
            again = AGAIN.match(line)
            rest = line[again.end() :] if again else line
            self.corrections = compose(self.task, self.corrections, rest)
            goal = " ".join([self.task, *self.corrections])
            self.console.print(f"[cyan]correction:[/] {escape(goal)}")
            self._abort(wait=True, say=True)
            if again:
                self.env.reset(seed=self.seed)
            self.start(goal)
            return True
        self._abort(wait=True, say=True)
        self.task, self.corrections = line, []
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
            from envs.rendering import RenderingError

            try:
                self.console.print(self.render_scene(), markup=False)
            except RenderingError as e:
                self.console.print(f"[red]{escape(str(e))}[/]")
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
        dirs = sorted(
            (d for d in runs_root().glob("*") if is_run(d)), key=lambda d: d.stat().st_mtime, reverse=True
        )
        for d in dirs[:10]:
            self.console.print(f"  {d.name}  {run_state(d)}", markup=False, highlight=False)

    # ----------------------------------------------------------------- running
    def start(self, goal: str) -> None:
        self.task = self.task or goal
        cfg = RunConfig(
            goal=goal,
            scene=self.scene,
            seed=self.seed,
            planner=self.planner,
            planner_options=dict(self.planner_options),
            manipulation=self.manipulation,
            locomotion=self.locomotion,
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
        self._spawn(lambda: session.run(approval=self.approval, confirm_weak=True), session)

    def _spawn(self, work: Callable[[], dict[str, Any]], session: RunSession) -> None:
        def target() -> None:
            try:
                summary = work()
            except Exception as e:  # the REPL must survive a failing run
                self.console.print(f"{END}: crashed ({escape(type(e).__name__)}: {escape(str(e))})")
                return
            if summary["status"] == "awaiting_approval":
                self.awaiting = session
                question = (session.pending_approval() or {}).get("question") or "approve this plan?"
                self.console.print(self.view)
                self.console.print(
                    f"{question} (y/n, or type a correction)", style="bold yellow", markup=False
                )
                return
            session.close()
            self._ended(summary)

        self.thread = threading.Thread(target=target, daemon=True, name="tandem-run")
        self.thread.start()

    def _ended(self, summary: dict[str, Any]) -> None:
        color = "green" if summary["success"] else "red"
        message = f": {escape(summary['message'])}" if summary.get("message") else ""
        self.console.print(
            f"{END}: [bold {color}]{summary['status']}[/]{message}  "
            f"[dim](run {summary['run_id']}, sim {summary['sim_time_s']} s, "
            f"wall {summary['wall_time_s']} s)[/]"
        )

    def _answer(self, approved: bool) -> None:
        session, self.awaiting = self.awaiting, None
        assert session is not None
        self.console.print("approved" if approved else "not approved")
        self._spawn(lambda: session.answer(approved), session)

    def _abort(self, wait: bool, say: bool) -> None:
        """Stop the running plan (it ends ``aborted``) or turn down the one awaiting approval."""
        if self.awaiting is not None:
            session, self.awaiting = self.awaiting, None
            if say:
                self.console.print("[yellow]the plan awaiting approval is not approved[/]")
            self._spawn(lambda: session.answer(False), session)
            self.thread.join()
        if self.session is not None and self.running:
            self.session.abort()
            if say:
                self.console.print("[yellow]stopping the current plan[/]")
            if wait and self.thread is not None:
                self.thread.join()  # the run stops at its next control tick or when planning returns

    def _narrate(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "plan":
            steps = data["plan"]["steps"]
            self.console.print(
                f"[cyan]plan v{data['version']}[/] ({len(steps)} steps): "
                + " → ".join(f"{s['skill']}" for s in steps)
            )
        elif kind == "outcome" and data["status"] == "failure":
            self.console.print(
                f"[red]  {data['call_id']} {data['skill']} failed: {escape(str(data['reason']))}[/]"
            )
        elif kind == "decision" and data["decision"] not in ("continue", "finish"):
            why = f": {data['message']}" if data.get("message") else ""  # e.g. unreachable: red_block is ...
            self.console.print(f"  decision: {data['decision']}{why}", style="cyan", markup=False)
        elif kind == "reply":
            self.console.print(f"[yellow]{escape(data.get('message') or '')}[/]")
        elif kind in ("fault_applied", "fault_not_applicable"):
            text = escape(str(data.get("detail") or data.get("reason") or ""))
            self.console.print(f"[magenta]  fault {escape(data['fault'])}: {text}[/]")

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
