"""The ``groot://HOST:PORT[?version=n1.5|n1.6&token=T&timeout=S&embodiment=NAME&k=8&fps=20&say=S]``
manipulation backend: pick and place run by a GR00T policy server, through ChunkedPolicyExecutor."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from skills.executor import Executor
from skills.policies.chunked import ChunkedPolicyExecutor, SpeedLimit
from skills.policies.groot.client import GrootClient, GrootError, GrootURL
from skills.policies.groot.embodiment import GrootEmbodiment, embodiment_for_robot, load_embodiment
from skills.policies.groot.policy import DEFAULT_K, GrootPolicy, groot_executor
from skills.policies.manipulation import UntilExecutor, Upcoming, instruction_for, picked, set_down


class GrootBackend:
    """Connects at construction (reads the server's modality config, so a wrong URL, token or version
    fails before any robot moves). One backend is one GR00T episode: ``reset`` goes out before its first
    call, and consecutive calls with the same instruction on the same groups (the pick and the place of
    "move the red block to the yellow zone") continue one stream of chunks, as a GR00T client running
    the task would: nothing the server sent is dropped between them."""

    def __init__(self, url: str) -> None:
        self.name = url
        self.url = GrootURL.parse(url)
        self.client = GrootClient.from_url(self.url)
        try:
            self.spec = self.client.spec()
        except GrootError as e:
            raise ValueError(f"--manipulation {url}: {e}") from None
        self.k = self.url.k or DEFAULT_K
        self._emb: GrootEmbodiment | None = (
            load_embodiment(self.url.embodiment) if self.url.embodiment else None
        )
        self._fresh = True
        self._stream: tuple[str, tuple[str, ...], ChunkedPolicyExecutor] | None = None

    def __repr__(self) -> str:
        return f"groot://{self.url.host}:{self.url.port} ({self.spec.version})"

    def embodiment(self, env) -> GrootEmbodiment:
        emb = self._emb or embodiment_for_robot(env.embodiment.robot)
        return emb.model_copy(update={"fps": self.url.fps}) if self.url.fps else emb

    def executor(self, env, skill: str, args: Any, upcoming: Upcoming = ()) -> Executor | None:
        """pick and place run by the server (the instruction rendered from the call and the plan around
        it, or the URL's ``say``); other skills keep their own executors."""
        if skill not in ("pick", "place"):
            return None
        from skills.library.common import arm_and_hand
        from skills.registry import get_skill

        steps = round(get_skill(skill).timeout_s / env.control_dt)
        instruction = self.url.say or instruction_for(skill, args, upcoming)
        inner = self.chunk_executor(env, arm_and_hand(args), instruction, steps)
        return UntilExecutor(inner, picked(args) if skill == "pick" else set_down(args))

    def task_executor(self, env, instruction: str, steps: int) -> Executor | None:
        """The whole task (the URL's ``say`` or ``instruction``) on every group the server's embodiment
        drives."""
        groups = dict.fromkeys(m.group for m in self.embodiment(env).action.values())
        return self.chunk_executor(env, groups, self.url.say or instruction, steps)

    def chunk_executor(self, env, groups: Iterable[str], instruction: str, steps: int) -> Executor:
        """Play the server's chunks on ``groups`` for ``steps`` ticks, arms under the arm speed limit."""
        from skills.controllers.trajectory import MAX_JOINT_SPEED

        groups = tuple(groups)
        if self._stream is not None and self._stream[:2] == (instruction, groups):
            return _Continued(self._stream[2], steps)
        if self._stream is not None:
            self._stream[2].close()
        if self._fresh:
            self.client.reset()
            self._fresh = False
        policy = GrootPolicy(self.client, self.embodiment(env), env, groups, instruction, self.k)
        limits = {
            g: SpeedLimit(env.embodiment.groups[g].state_index, MAX_JOINT_SPEED)
            for g in groups
            if g.endswith("_arm")
        }
        stream = groot_executor(policy, 10**9, limits)
        self._stream = (instruction, groups, stream)
        return _Continued(stream, steps, fresh=True)

    def close(self) -> None:
        if self._stream is not None:
            self._stream[2].close()
        self.client.close()


class _Continued:
    """One call's share of a backend's chunk stream: its own tick budget, the stream's chunks. Closing
    it leaves the stream running for the next call of the same instruction."""

    def __init__(self, stream: ChunkedPolicyExecutor, steps: int, fresh: bool = False) -> None:
        self.stream, self.steps, self.fresh = stream, steps, fresh
        self.groups = stream.groups
        self.policy = stream.policy
        self._ticks = 0
        self._from = (len(stream.chunk_latency_s), stream.late_ticks)

    def reset(self, obs, world) -> None:
        if self.fresh:
            self.stream.reset(obs, world)
        else:
            self.stream.resume(obs)
        self._from = (len(self.stream.chunk_latency_s), self.stream.late_ticks)

    def act(self, obs, world):
        self._ticks += 1
        return self.stream.act(obs, world)

    @property
    def finished(self) -> bool:
        return self._ticks >= self.steps

    @property
    def error(self) -> str | None:
        return self.stream.error

    def stats(self) -> dict[str, Any]:
        ms = [round(x * 1000, 2) for x in self.stream.chunk_latency_s[self._from[0] :]]
        late = self.stream.late_ticks - self._from[1]
        return {"chunks": len(ms), "late_ticks": late, "chunk_latency_ms": ms}

    def close(self) -> None:
        """The stream stays open for the next call; the backend closes it."""
