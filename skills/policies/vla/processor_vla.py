"""What stands between the world and the network: normalization statistics and camera frames.

Statistics come from the dataset a model was first trained on and travel with every checkpoint made
from it (``stats.json``): a fine-tuned model keeps its base model's normalization, so the same joint
angle means the same number to every layer it inherited.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, ValidationError

from skills.policies.vla.configuration_vla import VLAConfig

STATS_FILE = "stats.json"
MIN_STD = 1e-2  # joints that barely move (stance legs) would otherwise blow up to huge normalized values


class FeatureStats(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mean: list[float]
    std: list[float]
    min: list[float]
    max: list[float]

    @classmethod
    def of(cls, x: np.ndarray) -> FeatureStats:
        x = np.asarray(x, np.float64)
        return cls(
            mean=x.mean(0).tolist(), std=x.std(0).tolist(), min=x.min(0).tolist(), max=x.max(0).tolist()
        )


class EmbodimentStats(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: FeatureStats
    action: FeatureStats
    source: str = ""  # the dataset they were computed from


class Normalizer:
    """z-scores with the std clipped at ``MIN_STD``, per embodiment."""

    def __init__(self, stats: dict[str, EmbodimentStats]) -> None:
        self.stats = stats
        self._t: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        for name, s in stats.items():
            for key, f in (("state", s.state), ("action", s.action)):
                std = np.maximum(np.asarray(f.std, np.float32), MIN_STD)
                self._t[(name, key)] = (np.asarray(f.mean, np.float32), std)

    def _get(self, embodiment: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        if (embodiment, key) not in self._t:
            raise ValueError(
                f"no normalization statistics for embodiment '{embodiment}'; "
                f"the checkpoint has: {', '.join(sorted(self.stats)) or 'none'}"
            )
        return self._t[(embodiment, key)]

    def normalize(self, embodiment: str, key: str, x: np.ndarray) -> np.ndarray:
        mean, std = self._get(embodiment, key)
        if x.shape[-1] != len(mean):
            raise ValueError(f"{key} has {x.shape[-1]} values; embodiment '{embodiment}' has {len(mean)}")
        return ((x - mean) / std).astype(np.float32)

    def unnormalize(self, embodiment: str, key: str, x: np.ndarray) -> np.ndarray:
        mean, std = self._get(embodiment, key)
        return (x * std + mean).astype(np.float32)

    def save(self, folder: Path) -> None:
        data = {k: v.model_dump() for k, v in self.stats.items()}
        (folder / STATS_FILE).write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Normalizer:
        path = folder / STATS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: checkpoint has no {STATS_FILE} (normalization statistics)")
        try:
            raw = json.loads(path.read_text())
            return cls({k: EmbodimentStats.model_validate(v) for k, v in raw.items()})
        except (ValidationError, json.JSONDecodeError, AttributeError) as e:
            raise ValueError(f"{path}: invalid statistics: {e}") from None


def check_images(cfg: VLAConfig, images: np.ndarray, where: str = "image") -> None:
    """Frames must be uint8 RGB of exactly the size the model was trained on."""
    h, w = cfg.image_size
    if images.dtype != np.uint8 or images.ndim < 3 or images.shape[-3:] != (h, w, 3):
        raise ValueError(
            f"{where}: expected uint8 frames of shape ({h}, {w}, 3) for camera {cfg.camera}, "
            f"got {images.dtype} {tuple(images.shape[-3:]) if images.ndim >= 3 else tuple(images.shape)}"
        )


def resize_frames(cfg: VLAConfig, frames: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> uint8 (B, 3, R, R) at the encoder's resolution.

    Training data and live frames both pass through here (and are rounded back to uint8), so the
    network sees the same pixels for the same scene in the dataset and in the simulator."""
    x = frames.permute(0, 3, 1, 2)
    r = cfg.vision_resolution
    if x.shape[-2:] != (r, r):
        x = F.interpolate(x.float(), size=(r, r), mode="bilinear", antialias=True, align_corners=False)
        x = x.round().clamp(0, 255).to(torch.uint8)
    return x.contiguous()


def prepare_images(cfg: VLAConfig, frames: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) camera frames -> float (B, 3, R, R) in [0, 1] for the network."""
    return resize_frames(cfg, frames).float() / 255.0
