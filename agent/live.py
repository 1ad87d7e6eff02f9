"""The live view of a run (rich): what start-up is doing, the plan with step status, what is running,
monitor events -- fitted to the terminal's height.

A 21-step plan does not fit an 80x24 terminal, so finished steps collapse into one line once space runs
short, pending ones are cut from the end, and the running steps, the ``active:`` line and the newest
events always stay on screen.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

ICONS = {"pending": "[dim]○[/]", "running": "[yellow]◐[/]", "success": "[green]●[/]", "failure": "[red]✗[/]"}
PANEL_LINES = 2  # the panel's top and bottom border
MIN_EVENTS = 3


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
        self.stage = "starting"  # what start-up or planning is doing; empty once steps run
        self.seed: int | None = None

    def starting(self, what: str) -> None:
        """Start-up progress (``RunSession(progress=...)``): shown until the first plan arrives."""
        self.stage = what

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "start":
            self.seed = data.get("seed")
        elif kind == "plan":
            self.plan, self.version = data["plan"], data["version"]
            self.status = {s["id"]: "pending" for s in self.plan["steps"]}
            self.events.append(f"plan v{self.version}: {len(self.plan['steps'])} steps")
            self.stage = ""
        elif kind == "dispatch":
            self.status[data["call_id"]] = "running"
            self.sim_time = data["sim_time_s"]
        elif kind == "outcome":
            self.status[data["call_id"]] = data["status"]
            self.sim_time = data["sim_time_s"]
            color = "green" if data["status"] == "success" else "red"
            self.events.append(
                f"[{color}]{data['sim_time_s']:7.2f}s {escape(data['skill'])} {data['status']}: "
                f"{escape(str(data['reason']))}[/]"
            )
        elif kind == "decision" and data["decision"] not in ("continue",):
            self.events.append(
                f"[cyan]decision: {data['decision']}[/] {escape(str(data.get('message', '')))}"
            )
            if data["decision"] in ("replan", "repair"):
                self.stage = "re-planning from the world as it is"
        elif kind == "understood":
            self.note = data.get("summary", "")
            self.stage = "planning"
        elif kind == "reply":
            self.note = data.get("message", "")
            self.stage = ""
        elif kind == "planner_fallback":
            self.events.append(
                f"[yellow]the LLM planner is unavailable, using the offline planner[/]: "
                f"{escape(str(data.get('reason', '')))}"
            )
        elif kind in ("fault_applied", "fault_not_applicable"):
            text = data.get("detail") or data.get("reason", "")
            color = "magenta" if kind == "fault_applied" else "yellow"
            self.events.append(f"[{color}]fault {escape(data['fault'])}: {escape(str(text))}[/]")
        elif kind == "invalid_plan":
            self.events.extend(f"[red]{escape(str(i))}[/]" for i in data["issues"][:4])

    def tick(self, sim_time: float) -> None:
        self.sim_time = sim_time

    # ----------------------------------------------------------------- rendering
    def _step_line(self, step: dict[str, Any]) -> Text:
        args = ", ".join(f"{k}={v}" for k, v in step["args"].items())
        after = f" [dim]after {', '.join(step['after'])}[/]" if step["after"] else ""
        icon = ICONS[self.status.get(step["id"], "pending")]
        return _line(f"{icon} {step['id']}: {escape(step['skill'])}({escape(args)}){after}")

    def _step_lines(self, budget: int) -> list[Text]:
        """The plan in at most ``budget`` lines: all of it when it fits, else finished steps folded into
        one line, every running step, and as many pending ones as fit."""
        steps = self.plan["steps"] if self.plan else []
        if len(steps) <= budget:
            return [self._step_line(s) for s in steps]
        done = [s for s in steps if self.status.get(s["id"]) in ("success", "failure")]
        running = [s for s in steps if self.status.get(s["id"]) == "running"]
        pending = [s for s in steps if self.status.get(s["id"], "pending") == "pending"]
        failed = sum(self.status.get(s["id"]) == "failure" for s in done)
        lines = []
        if done:
            ids = f"{done[0]['id']}..{done[-1]['id']}" if len(done) > 1 else done[0]["id"]
            lines.append(
                _line(
                    f"[green]●[/] {len(done)} step{'s' if len(done) > 1 else ''} done ({ids})"
                    + (f", [red]{failed} failed[/]" if failed else "")
                )
            )
        lines += [self._step_line(s) for s in running]
        room = budget - len(lines)
        if len(pending) <= room:
            lines += [self._step_line(s) for s in pending]
        elif room > 0:
            lines += [self._step_line(s) for s in pending[: room - 1]]
            lines.append(_line(f"[dim]○ ... {len(pending) - (room - 1)} more pending[/]"))
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height = (options.height or console.size.height) - 1  # the cursor's line below the panel
        head = _line(
            f"[bold]{escape(self.goal)}[/]" + (f"  [dim]({escape(self.note)})[/]" if self.note else "")
        )
        active = [sid for sid, st in self.status.items() if st == "running"]
        status = _line(
            f"[bold]sim time:[/] {self.sim_time:.2f} s   [bold]active:[/] {', '.join(active) or '-'}"
        )
        doing = [_line(f"[yellow]{escape(self.stage)}...[/]")] if self.stage else []
        budget = max(height - PANEL_LINES - 2 - len(doing), 1)  # head and status lines
        events = list(self.events)
        n_events = min(
            len(events), max(MIN_EVENTS, budget - len(self.plan["steps"]) if self.plan else budget)
        )
        steps = self._step_lines(max(budget - n_events, 1)) if self.plan else []
        n_events = min(len(events), budget - len(steps))
        shown = [
            head,
            *doing,
            *steps,
            status,
            *(_line(e) for e in events[len(events) - n_events :] if n_events > 0),
        ]
        seed = f" · seed {self.seed}" if self.seed is not None else ""
        yield Panel(Group(*shown), title=f"tandem run · plan v{self.version}{seed}", border_style="blue")


def _line(markup: str) -> Text:
    text = Text.from_markup(markup)
    text.no_wrap, text.overflow = True, "ellipsis"
    return text
