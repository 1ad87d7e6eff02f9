"""The ``groot://HOST:PORT[?version=n1.5|n1.6&token=T&timeout=S&embodiment=NAME&k=8]`` manipulation
backend: skill calls on arms and hands run by a GR00T policy server, through ChunkedPolicyExecutor."""

from __future__ import annotations

from collections.abc import Iterable

from skills.policies.chunked import ChunkedPolicyExecutor, SpeedLimit
from skills.policies.groot.client import GrootClient, GrootURL
from skills.policies.groot.embodiment import GrootEmbodiment, embodiment_for_robot, load_embodiment
from skills.policies.groot.policy import DEFAULT_K, GrootPolicy, groot_executor


class GrootBackend:
    """Connects at construction (reads the server's modality config, so a wrong URL, token or version
    fails before any robot moves); one GR00T episode per run: ``reset`` is sent before the first call
    and again after ``new_episode()``."""

    def __init__(self, url: str) -> None:
        self.url = GrootURL.parse(url)
        self.client = GrootClient.from_url(self.url)
        self.spec = self.client.spec()
        self.k = self.url.k or DEFAULT_K
        self._emb: GrootEmbodiment | None = (
            load_embodiment(self.url.embodiment) if self.url.embodiment else None
        )
        self._fresh = True

    def __repr__(self) -> str:
        return f"groot://{self.url.host}:{self.url.port} ({self.spec.version})"

    def embodiment(self, env) -> GrootEmbodiment:
        return self._emb or embodiment_for_robot(env.embodiment.robot)

    def new_episode(self) -> None:
        self._fresh = True

    def executor(self, env, groups: Iterable[str], instruction: str, steps: int) -> ChunkedPolicyExecutor:
        """Play the server's chunks on ``groups`` for ``steps`` ticks, arms under the arm speed limit."""
        from skills.controllers.trajectory import MAX_JOINT_SPEED

        if self._fresh:
            self.client.reset()
            self._fresh = False
        groups = tuple(groups)
        policy = GrootPolicy(self.client, self.embodiment(env), env, groups, instruction, self.k)
        limits = {
            g: SpeedLimit(env.embodiment.groups[g].state_index, MAX_JOINT_SPEED)
            for g in groups
            if g.endswith("_arm")
        }
        return groot_executor(policy, steps, limits)

    def close(self) -> None:
        self.client.close()


def make_groot_backend(url: str) -> GrootBackend:
    return GrootBackend(url)
