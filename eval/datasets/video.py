"""Dataset videos with PyAV: H.264, yuv420p, a keyframe every 2 frames (cheap random access for training
loaders, as LeRobot encodes with g=2), and decoding for check / view / replay."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

CRF = "23"
GOP = "2"


class VideoEncoder:
    """Frames (H, W, 3) uint8 RGB appended one at a time into an MP4 at ``fps``."""

    def __init__(self, path: str | Path, fps: int, width: int, height: int) -> None:
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps))
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": CRF, "g": GOP, "bf": "0", "preset": "veryfast"}
        self._stream.thread_count = 1  # one core per worker
        self.frames = 0

    def append(self, frame: np.ndarray) -> None:
        import av

        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()


def read_frames(path: str | Path) -> np.ndarray:
    """All frames of a video as (N, H, W, 3) uint8 RGB."""
    import av

    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)


def probe(path: str | Path) -> dict:
    """Frame count (decoded), size, fps and codec of a video."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(video=0))
        return {
            "frames": n,
            "width": s.codec_context.width,
            "height": s.codec_context.height,
            "fps": float(s.average_rate) if s.average_rate else None,
            "codec": s.codec_context.name,
            "pix_fmt": s.codec_context.pix_fmt,
        }
