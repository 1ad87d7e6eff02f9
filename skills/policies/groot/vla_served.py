"""A Tandem VLA checkpoint behind GR00T's ``get_action``: the server side of ``tandem groot serve --policy``.

The server asks for the checkpoint's camera and the embodiment mapping's state groups; the groups are put
back into the model's state vector by their slices, and the predicted chunk is cut into action groups by
the same slices (the G1's state and action share the 43-D layout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skills.policies.groot.embodiment import load_embodiment
from skills.policies.groot.protocol import ProtocolError, Request, ServerSpec
from skills.policies.groot.wire import Version

VLA_EMBODIMENT = {"g1": "unitree_g1", "so100": "so100"}  # mapping name -> the VLA's embodiment key


class VLAServed:
    """Args:
    checkpoint: a Tandem VLA checkpoint folder (config.json + model.safetensors + stats.json).
    version: the wire version to serve.
    embodiment: the mapping whose state/action groups go over the wire.
    device: torch device (``auto``: CUDA when there is one).
    """

    def __init__(
        self, checkpoint: str | Path, version: Version, embodiment: str = "g1", device: str = "auto"
    ) -> None:
        from skills.policies.vla.policy import load_for_inference

        self.policy = load_for_inference(checkpoint, device)  # on the CPU: ONNX Runtime
        cfg = self.policy.config
        self.emb = load_embodiment(embodiment)
        self.vla_embodiment = VLA_EMBODIMENT.get(self.emb.name, self.emb.robot)
        dims = cfg.embodiment(self.vla_embodiment)  # raises naming what the checkpoint was built for
        self.state_dim, self.action_dim = dims.state_dim, dims.action_dim
        self.camera = cfg.camera.rsplit(".", 1)[-1]
        self.spec = ServerSpec(
            version=version,
            video_keys=[self.camera],
            state_keys=list(self.emb.state),
            action_keys=list(self.emb.action),
            language_key=self.emb.language_key,
            action_horizon=cfg.chunk,
        )
        self.state_dims = {k: b - a for k, (a, b) in self.emb.state.items()}
        self._action_slices = {k: self.emb.state[k] for k in self.emb.action}

    def get_action(self, request: Request) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        h, w = self.policy.config.image_size
        frames = request.video[self.camera][:, -1]
        if frames.shape[1:3] != (h, w):
            raise ProtocolError(
                f"video key '{self.camera}': this checkpoint takes {h}x{w} frames, got "
                f"{frames.shape[1]}x{frames.shape[2]}"
            )
        states = np.zeros((request.batch, self.state_dim), np.float32)
        for k, (a, b) in self.emb.state.items():
            states[:, a:b] = request.state[k][:, -1]
        chunk = self.policy.predict(frames, states, request.instructions, self.vla_embodiment)
        return {k: chunk[:, :, a:b] for k, (a, b) in self._action_slices.items()}, {}

    def reset(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        return {}  # the model keeps no state between requests
