"""VLAConfig: the shape of a Tandem VLA, saved as a checkpoint's ``config.json``.

The model is GR00T-shaped: an ego-camera encoder and a language vector become vision-language tokens;
a flow-matching DiT action head denoises a chunk of future actions while cross-attending to them.
Per-embodiment state and action projections let one trunk serve robots with different joint layouts
(the G1's 43-D GR00T layout; a 6-D SO-100 arm), chosen by name at every call.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from envs.robots.g1.g1_constants import STATE_DIM

CONFIG_FILE = "config.json"


class EmbodimentSpec(BaseModel):
    """A robot's state and action vectors as the model reads and writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    state_dim: int = Field(gt=0)
    action_dim: int = Field(gt=0)


G1 = "unitree_g1"
DEFAULT_EMBODIMENTS = {G1: EmbodimentSpec(state_dim=STATE_DIM, action_dim=STATE_DIM)}


class VLAConfig(BaseModel):
    """Sizes of every part. The defaults give about 15 M parameters (``tandem train`` logs the count)."""

    model_config = ConfigDict(extra="forbid")
    type: str = "tandem_vla"
    embodiments: dict[str, EmbodimentSpec] = Field(default_factory=lambda: dict(DEFAULT_EMBODIMENTS))
    camera: str = "observation.images.ego_view"
    image_size: tuple[int, int] = (224, 224)  # (height, width) of the camera frames the model accepts
    vision_resolution: int = Field(128, ge=16)  # frames are resized to this square before the encoder
    vision_channels: tuple[int, ...] = (32, 64, 128, 256)  # one stride-2 residual stage each, after the stem
    language_dim: int = 384  # all-MiniLM-L6-v2 sentence vector
    language_tokens: int = Field(4, ge=1)
    hidden: int = Field(256, ge=16)
    heads: int = Field(8, ge=1)
    vl_layers: int = Field(2, ge=0)  # self-attention over vision + language tokens (GR00T's VL mixer)
    dit_layers: int = Field(6, ge=1)
    mlp_ratio: float = Field(4.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    chunk: int = Field(16, ge=1)  # actions predicted per inference, at the dataset's fps
    fps: float = Field(20.0, gt=0)
    denoise_steps: int = Field(4, ge=1)  # Euler steps at inference
    # Actions of each chunk played before the next is asked for, where `policy:CKPT?execute=K` does not
    # say: a deployment setting measured per checkpoint (models/README.md), not used in training.
    execute: int = Field(8, ge=1)
    beta_alpha: float = 1.5  # GR00T samples flow time from Beta(1.5, 1), weighting the noisy end
    beta_beta: float = 1.0
    time_buckets: int = 1000
    # What the G1 stood on in the demonstrations it was trained on (holonomic | walker[:PATH]); its runs
    # default to it: the block policy trained gliding moved the block on 0 of 20 seeds on legs.
    locomotion: str | None = None

    @model_validator(mode="after")
    def _check(self) -> VLAConfig:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if not self.embodiments:
            raise ValueError("embodiments: at least one is needed")
        if self.execute > self.chunk:
            raise ValueError(f"execute ({self.execute}) cannot exceed the chunk ({self.chunk})")
        return self

    def embodiment(self, name: str) -> EmbodimentSpec:
        """The named embodiment's spec, or an error listing the ones this model was built for."""
        if name not in self.embodiments:
            raise ValueError(
                f"this checkpoint has no projections for embodiment '{name}'; "
                f"it was built for: {', '.join(sorted(self.embodiments))}"
            )
        return self.embodiments[name]

    def save(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> VLAConfig:
        path = folder / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: not a Tandem VLA checkpoint (no {CONFIG_FILE})")
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (ValidationError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: invalid VLA config: {e}") from None
