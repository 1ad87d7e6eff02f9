"""wait(seconds): let simulated time pass (e.g. for a reaction to develop)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from skills.spec import CallContext, SkillArgs, SkillSpec, Verdict


class WaitArgs(SkillArgs):
    seconds: Annotated[float, Field(gt=0, le=120)]


class WaitExecutor:
    """Commands nothing; time passes."""

    groups: tuple[str, ...] = ()

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._t0: float | None = None
        self._now = 0.0

    def reset(self, obs, world) -> None:
        self._t0 = obs.time_s
        self._now = obs.time_s

    def act(self, obs, world) -> dict:
        self._now = obs.time_s
        return {}

    @property
    def finished(self) -> bool:
        return self._t0 is not None and self._now - self._t0 >= self.seconds - 1e-9

    def close(self) -> None:
        pass


def _judge(c: CallContext) -> Verdict | None:
    a: WaitArgs = c.args  # type: ignore[assignment]
    if c.elapsed_s >= a.seconds - 1e-9:
        return Verdict("success", f"waited {c.elapsed_s:.2f} s", {"elapsed_s": round(c.elapsed_s, 3)})
    return None


SPEC = SkillSpec(
    name="wait",
    description="Wait a number of seconds without moving (e.g. let the foam reaction develop).",
    args=WaitArgs,
    resources=lambda a: (),
    preconditions=lambda s, a: [],
    effects=lambda s, a: None,
    timeout_s=125.0,
    executor=lambda env, a: WaitExecutor(a.seconds),
    judge=_judge,
)
