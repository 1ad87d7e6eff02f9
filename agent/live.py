"""The live view of a run (rich): the plan as a tree with step status, active skills, monitor events."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

ICONS = {"pending": "[dim]○[/]", "running": "[yellow]◐[/]", "success": "[green]●[/]", "failure": "[red]✗[/]"}


class LiveView:
    """Listens to run events (``emit(kind, data)``) and renders the current picture."""

    def __init__(self, goal: str, max_events: int = 8) -> None:
        self.goal = goal
        self.plan: dict[str, Any] | None = None
        self.version = 0
        self.status: dict[str, str] = {}
        self.events: deque[str] = deque(maxlen=max_events)
        self.sim_time = 0.0
        self.note = ""

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "plan":
            self.plan, self.version = data["plan"], data["version"]
            self.status = {s["id"]: "pending" for s in self.plan["steps"]}
            self.events.append(f"plan v{self.version}: {len(self.plan['steps'])} steps")
        elif kind == "dispatch":
            self.status[data["call_id"]] = "running"
            self.sim_time = data["sim_time_s"]
        elif kind == "outcome":
            self.status[data["call_id"]] = data["status"]
            self.sim_time = data["sim_time_s"]
            color = "green" if data["status"] == "success" else "red"
            self.events.append(
                f"[{color}]{data['sim_time_s']:7.2f}s {data['skill']} {data['status']}: {data['reason']}[/]"
            )
        elif kind == "decision" and data["decision"] not in ("continue",):
            self.events.append(f"[cyan]decision: {data['decision']}[/] {data.get('message', '')}")
        elif kind in ("reply", "understood"):
            self.note = data.get("message") or data.get("summary", "")
        elif kind == "invalid_plan":
            self.events.extend(f"[red]{i}[/]" for i in data["issues"][:4])

    def tick(self, sim_time: float) -> None:
        self.sim_time = sim_time

    def __rich__(self) -> Panel:
        tree = Tree(f"[bold]{self.goal}[/]" + (f"  [dim]({self.note})[/]" if self.note else ""))
        if self.plan:
            for s in self.plan["steps"]:
                args = ", ".join(f"{k}={v}" for k, v in s["args"].items())
                after = f" [dim]after {', '.join(s['after'])}[/]" if s["after"] else ""
                tree.add(
                    f"{ICONS[self.status.get(s['id'], 'pending')]} {s['id']}: {s['skill']}({args}){after}"
                )
        active = [sid for sid, st in self.status.items() if st == "running"]
        body = Group(
            tree,
            Text.from_markup(
                f"[bold]active:[/] {', '.join(active) or '-'}   [bold]sim time:[/] {self.sim_time:.2f} s"
            ),
            *(Text.from_markup(e) for e in self.events),
        )
        return Panel(body, title=f"tandem run · plan v{self.version}", border_style="blue")
