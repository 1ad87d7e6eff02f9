"""The two observation/action layouts of GR00T's ``get_action``, for the client and for the server.

N1.5: ``data`` is the observation itself, flat keys with a time dim: ``video.<cam>`` (T, H, W, 3) uint8,
``state.<group>`` (T, D), ``annotation.<...>`` a list of one string; the reply is
``{"action.<group>": (16, D)}``.
N1.6: ``data`` is ``{"observation": ..., "options": ...}``, nested and batched: ``video: {cam: (B, T, H, W,
3)}``, ``state: {group: (B, T, D) float32}``, ``language: {key: [[str]]}``; the reply is ``(action, info)``
with ``action = {group: (B, horizon, D)}`` (msgpack turns the tuple into a list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skills.policies.groot.wire import ModalityConfig, Version

DEFAULT_LANGUAGE_KEY = "annotation.human.task_description"
_PREFIX = {"video": "video.", "state": "state.", "action": "action."}


class ProtocolError(ValueError):
    """An observation or a reply does not match the layout the other side expects."""


def _strip(modality: str, key: str) -> str:
    p = _PREFIX.get(modality, "")
    return key[len(p) :] if p and key.startswith(p) else key


@dataclass
class ServerSpec:
    """What a server takes and returns, without the version's key prefixes.

    Empty key lists mean the server did not say (a policy without a modality config): the client then
    sends everything its embodiment mapping has and takes whatever action keys come back.
    """

    version: Version
    video_keys: list[str] = field(default_factory=list)
    state_keys: list[str] = field(default_factory=list)
    action_keys: list[str] = field(default_factory=list)
    language_key: str = DEFAULT_LANGUAGE_KEY
    video_horizon: int = 1
    state_horizon: int = 1
    action_horizon: int | None = None
    action_reps: dict[str, str] = field(default_factory=dict)  # N1.6 action_configs, by key

    @classmethod
    def from_modality_config(cls, cfg: Mapping[str, Any], version: Version | None = None) -> ServerSpec:
        configs = {m: c for m, c in cfg.items() if isinstance(c, ModalityConfig)}
        if not configs:
            if version is None:
                raise ProtocolError(
                    "the server sent no modality config, so its wire version is unknown: "
                    "add ?version=n1.5 or ?version=n1.6 to the URL"
                )
            return cls(version=version)
        seen = {c.version for c in configs.values()}
        wire: Version = "n1.5" if seen == {"n1.5"} else "n1.6"
        if version is not None and version != wire:
            raise ProtocolError(
                f"version={version} was asked for, but the server's modality config is in the {wire} "
                f"format; drop ?version= or use version={wire}"
            )

        def keys(m: str) -> list[str]:
            return [_strip(m, k) for k in configs[m].modality_keys] if m in configs else []

        lang = configs.get("language")
        if lang is not None and len(lang.modality_keys) != 1:
            raise ProtocolError(f"the server lists {len(lang.modality_keys)} language keys; GR00T takes one")
        act = configs.get("action")
        reps: dict[str, str] = {}
        if act is not None and act.action_configs:
            for k, ac in zip(act.modality_keys, act.action_configs, strict=False):
                if isinstance(ac, dict) and ac.get("rep"):
                    reps[_strip("action", k)] = str(ac["rep"])
        return cls(
            version=wire,
            video_keys=keys("video"),
            state_keys=keys("state"),
            action_keys=keys("action"),
            language_key=lang.modality_keys[0] if lang is not None else DEFAULT_LANGUAGE_KEY,
            video_horizon=max(1, len(configs["video"].delta_indices)) if "video" in configs else 1,
            state_horizon=max(1, len(configs["state"].delta_indices)) if "state" in configs else 1,
            action_horizon=len(act.delta_indices) if act is not None and act.delta_indices else None,
            action_reps=reps,
        )

    def modality_config(self) -> dict[str, ModalityConfig]:
        """This spec as the server's ``get_modality_config`` reply, in its version's format."""
        v = self.version
        pre = (lambda m, k: _PREFIX[m] + k) if v == "n1.5" else (lambda m, k: k)
        horizon = self.action_horizon or 16
        action_configs = None
        if v == "n1.6":
            action_configs = [
                {
                    "rep": self.action_reps.get(k, "ABSOLUTE"),
                    "type": "NON_EEF",
                    "format": "DEFAULT",
                    "state_key": None,
                }
                for k in self.action_keys
            ]
        return {
            "video": ModalityConfig(
                list(range(self.video_horizon)), [pre("video", k) for k in self.video_keys], v
            ),
            "state": ModalityConfig(
                list(range(self.state_horizon)), [pre("state", k) for k in self.state_keys], v
            ),
            "action": ModalityConfig(
                list(range(horizon)), [pre("action", k) for k in self.action_keys], v, action_configs
            ),
            "language": ModalityConfig([0], [self.language_key], v),
        }


# ----------------------------------------------------------------- client side
def encode_observation(
    spec: ServerSpec, video: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray], instruction: str
) -> dict[str, Any]:
    """The observation for ``get_action`` in the server's layout (one frame, batch 1 for N1.6).

    A time horizon above 1 repeats the current frame and state: the client keeps no history.
    """
    for what, want, have in (("camera", spec.video_keys, video), ("state group", spec.state_keys, state)):
        missing = [k for k in want if k not in have]
        if missing:
            raise ProtocolError(
                f"the server wants {what} {', '.join(repr(k) for k in missing)}; "
                f"the embodiment mapping provides: {', '.join(sorted(have)) or 'none'}"
            )
    vkeys = spec.video_keys or sorted(video)
    skeys = spec.state_keys or sorted(state)
    frames = {
        k: np.repeat(np.asarray(video[k], dtype=np.uint8)[None], spec.video_horizon, axis=0) for k in vkeys
    }
    states = {
        k: np.repeat(np.asarray(state[k], dtype=np.float32).reshape(1, -1), spec.state_horizon, axis=0)
        for k in skeys
    }
    if spec.version == "n1.5":
        return (
            {f"video.{k}": v for k, v in frames.items()}
            | {f"state.{k}": v for k, v in states.items()}
            | {spec.language_key: [instruction]}
        )
    return {
        "video": {k: v[None] for k, v in frames.items()},
        "state": {k: v[None] for k, v in states.items()},
        "language": {spec.language_key: [[instruction]]},
    }


def decode_action(
    spec: ServerSpec, reply: Any, expected_dims: Mapping[str, int] | None, server: str = "the server"
) -> dict[str, np.ndarray]:
    """A ``get_action`` reply -> ``{group: (horizon, D)}``, checked against the spec and the mapping."""
    if spec.version == "n1.6":
        if not (isinstance(reply, list | tuple) and len(reply) == 2 and isinstance(reply[0], dict)):
            raise ProtocolError(
                f"{server}: an N1.6 get_action reply is (action, info); got {type(reply).__name__} "
                f"{_short(reply)} (is it an N1.5 server? use ?version=n1.5)"
            )
        raw = reply[0]
        batched = True
    else:
        if not isinstance(reply, dict):
            raise ProtocolError(
                f"{server}: an N1.5 get_action reply is a dict of action.* arrays; got "
                f"{type(reply).__name__} {_short(reply)} (is it an N1.6 server? use ?version=n1.6)"
            )
        stray = [k for k in reply if not str(k).startswith("action.")]
        if stray:
            raise ProtocolError(
                f"{server}: N1.5 action keys start with 'action.'; "
                f"the reply has {', '.join(map(repr, stray))}"
            )
        raw = {k[len("action.") :]: v for k, v in reply.items()}
        batched = None  # (T, D) or (B, T, D)
    want = list(spec.action_keys) or list(raw)
    missing = [k for k in want if k not in raw]
    if missing:
        raise ProtocolError(
            f"{server}: the reply lacks action key(s) {', '.join(map(repr, missing))}; "
            f"it has: {', '.join(map(repr, sorted(raw))) or 'none'}"
        )
    if expected_dims is not None:
        unknown = [k for k in raw if k not in expected_dims]
        if unknown:
            raise ProtocolError(
                f"{server}: action key(s) {', '.join(map(repr, unknown))} are not in the embodiment mapping "
                f"(its action groups: {', '.join(sorted(expected_dims))})"
            )
    out: dict[str, np.ndarray] = {}
    prefix = "action." if spec.version == "n1.5" else ""
    for k in want:
        v = raw[k]
        if not isinstance(v, np.ndarray):
            raise ProtocolError(f"{server}: action key '{prefix}{k}' is a {type(v).__name__}, not an array")
        d = None if expected_dims is None else expected_dims.get(k)
        h = spec.action_horizon
        lead = (1,) if batched or (batched is None and v.ndim == 3) else ()
        expect = (*lead, h if h else "H", d if d else "D")
        ok = v.ndim == len(expect) and (not lead or v.shape[0] == 1)
        ok = ok and (h is None or v.shape[-2] == h) and (d is None or v.shape[-1] == d) and v.shape[-2] >= 1
        if not ok:
            raise ProtocolError(
                f"{server}: action key '{prefix}{k}': expected shape ({', '.join(map(str, expect))}), "
                f"got {tuple(v.shape)}"
            )
        a = np.asarray(v, dtype=np.float64).reshape(v.shape[-2], v.shape[-1])
        if not np.all(np.isfinite(a)):
            raise ProtocolError(f"{server}: action key '{prefix}{k}' holds NaN or inf")
        out[k] = a
    lengths = {k: len(a) for k, a in out.items()}
    if len(set(lengths.values())) > 1:
        raise ProtocolError(f"{server}: action chunks of different lengths: {lengths}")
    return out


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) < 120 else s[:117] + "..."


# ----------------------------------------------------------------- server side
@dataclass
class Request:
    """A decoded ``get_action`` observation: batch of frames, states and instructions."""

    video: dict[str, np.ndarray]  # (B, T, H, W, 3)
    state: dict[str, np.ndarray]  # (B, T, D)
    instructions: list[str]
    batch: int
    options: dict[str, Any] | None = None


def decode_observation(spec: ServerSpec, data: Any, state_dims: Mapping[str, int]) -> Request:
    """A ``get_action`` request's data as this server's version lays it out; ProtocolError names the
    key, the expected and the received shape when it does not fit."""
    if not isinstance(data, dict):
        raise ProtocolError(f"get_action data must be a dict, got {type(data).__name__}")
    options = None
    if spec.version == "n1.6":
        if "observation" not in data:
            raise ProtocolError(
                "N1.6 get_action data is {'observation': ..., 'options': ...}; got keys "
                f"{sorted(data)} (an N1.5 client? start the server with --version n1.5)"
            )
        obs, options = data["observation"], data.get("options")
        for m in ("video", "state", "language"):
            if not isinstance(obs.get(m), dict):
                raise ProtocolError(f"observation['{m}'] must be a dict")
        video, state, lang = obs["video"], obs["state"], obs["language"]
        vname = sname = "{}"
    else:
        if "observation" in data:
            raise ProtocolError(
                "N1.5 get_action data is the flat observation (an N1.6 client? use --version n1.6)"
            )
        video = {k[6:]: v for k, v in data.items() if k.startswith("video.")}
        state = {k[6:]: v for k, v in data.items() if k.startswith("state.")}
        lang = {k: v for k, v in data.items() if "annotation" in k}
        vname, sname = "video.{}", "state.{}"
    batch = None
    videos: dict[str, np.ndarray] = {}
    for k in spec.video_keys:
        v = video.get(k)
        if not isinstance(v, np.ndarray):
            raise ProtocolError(
                f"missing video key '{vname.format(k)}' (got: {', '.join(sorted(video)) or 'none'})"
            )
        want = 5 if spec.version == "n1.6" else (4, 5)
        if (
            v.ndim not in (want if isinstance(want, tuple) else (want,))
            or v.shape[-1] != 3
            or v.dtype != np.uint8
        ):
            lay = "(B, T, H, W, 3)" if spec.version == "n1.6" else "(T, H, W, 3)"
            raise ProtocolError(
                f"video key '{vname.format(k)}': expected uint8 {lay}, got {v.dtype} {tuple(v.shape)}"
            )
        videos[k] = v if v.ndim == 5 else v[None]
    states: dict[str, np.ndarray] = {}
    for k in spec.state_keys:
        v = state.get(k)
        if not isinstance(v, np.ndarray):
            raise ProtocolError(
                f"missing state key '{sname.format(k)}' (got: {', '.join(sorted(state)) or 'none'})"
            )
        d = state_dims[k]
        nd_ok = v.ndim == 3 if spec.version == "n1.6" else v.ndim in (2, 3)
        if not nd_ok or v.shape[-1] != d or (spec.version == "n1.6" and v.dtype != np.float32):
            lay = f"float32 (B, T, {d})" if spec.version == "n1.6" else f"(T, {d})"
            raise ProtocolError(
                f"state key '{sname.format(k)}': expected {lay}, got {v.dtype} {tuple(v.shape)}"
            )
        states[k] = v if v.ndim == 3 else v[None]
    if len(lang) != 1:
        raise ProtocolError(
            f"exactly one language key is allowed ('{spec.language_key}'); got {sorted(lang)}"
        )
    (text,) = lang.values()
    if spec.version == "n1.6":
        ok = isinstance(text, list) and all(
            isinstance(t, list) and len(t) == 1 and isinstance(t[0], str) for t in text
        )
        if not ok:
            raise ProtocolError(
                f"language '{spec.language_key}': expected [[str]] (B, 1), got {_short(text)}"
            )
        instructions = [t[0] for t in text]
    else:
        text = list(text) if isinstance(text, list | tuple | np.ndarray) else [text]
        if not all(isinstance(t, str) for t in text):
            raise ProtocolError(f"annotation: expected a list of strings, got {_short(text)}")
        instructions = [str(t) for t in text]
    for arr in (*videos.values(), *states.values()):
        b = arr.shape[0]
        if batch is not None and b != batch:
            raise ProtocolError(f"batch sizes differ across keys ({batch} vs {b})")
        batch = b
    return Request(videos, states, instructions, batch or len(instructions), options)


def encode_action(
    spec: ServerSpec, chunk: Mapping[str, np.ndarray], info: dict[str, Any] | None = None
) -> Any:
    """``{group: (B, H, D)}`` -> the reply in this server's version (N1.5 unbatched for batch 1)."""
    if spec.version == "n1.6":
        return [{k: np.asarray(v, dtype=np.float32) for k, v in chunk.items()}, info or {}]
    return {
        f"action.{k}": np.asarray(v[0] if v.shape[0] == 1 else v, dtype=np.float32) for k, v in chunk.items()
    }
