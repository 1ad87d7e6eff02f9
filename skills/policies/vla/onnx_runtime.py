"""The VLA's denoising on ONNX Runtime: the same network at less than half the time per chunk on a CPU.

At batch 1 eager PyTorch spends much of a chunk dispatching small ops (4 Euler steps x 6 DiT blocks);
ONNX Runtime runs the traced graph with fused kernels. The graph is traced from ``VLAModel.denoise`` when
a policy is loaded (a few seconds, in memory, one per embodiment of the checkpoint), so there is no
second file to keep in step with the checkpoint. Actions match PyTorch's to ~1e-6 (tested); docs/vla.md
has the figures.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import torch

from skills.policies.vla.modeling_vla import VLAModel

INPUTS = ("images", "language", "state", "noise")


class _Denoise(torch.nn.Module):
    def __init__(self, model: VLAModel, embodiment: str) -> None:
        super().__init__()
        self.model, self.embodiment = model, embodiment

    def forward(self, images, language, state, noise):
        return self.model.denoise(self.embodiment, images, language, state, noise)


def export(model: VLAModel, embodiment: str) -> bytes:
    """The ONNX graph of ``model.denoise`` for one embodiment, batch size left free."""
    cfg = model.vla_config
    dims = cfg.embodiment(embodiment)
    r = cfg.vision_resolution
    example = {  # batch 1 of the right shapes: tracing records the ops, not the values
        "images": torch.zeros(1, 3, r, r),
        "language": torch.zeros(1, cfg.language_dim),
        "state": torch.zeros(1, dims.state_dim),
        "noise": torch.zeros(1, cfg.chunk, dims.action_dim),
    }
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; say so before torch fails deep inside)
    except ImportError:
        raise ImportError("the ONNX runtime of the VLA needs the 'onnx' package: pip install onnx") from None
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # torch 2.9+ prefers its torch.export-based exporter: it needs onnxscript, took ~40 s on this model
        # and wrote a graph onnxruntime 1.32 refused (Split's num_outputs); the TorchScript one takes ~4 s.
        warnings.simplefilter("ignore", DeprecationWarning)
        # GroupNorm's check that a training batch has more than one value per channel: not in the graph.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            _Denoise(model, embodiment).eval(),
            tuple(example[k] for k in INPUTS),
            buf,  # type: ignore[arg-type]  # the TorchScript exporter writes to file objects too
            input_names=list(INPUTS),
            output_names=["actions"],
            dynamic_axes={k: {0: "batch"} for k in (*INPUTS, "actions")},
            opset_version=17,
            dynamo=False,
        )
    return buf.getvalue()


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when set (an eval worker pins it to 1), else every core."""
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


class OnnxDenoiser:
    """``VLAModel.denoise`` on ONNX Runtime's CPU provider with ``threads`` intra-op threads."""

    def __init__(self, model: VLAModel, threads: int | None = None) -> None:
        self.threads = threads or default_threads()
        # Every embodiment now, not at the first chunk: a call must not wait seconds for its first actions.
        self.sessions = {name: self._session(export(model, name)) for name in model.vla_config.embodiments}

    def __call__(self, embodiment: str, batch: dict[str, torch.Tensor], noise: torch.Tensor) -> torch.Tensor:
        feed = {**batch, "noise": noise}
        arrays = {k: feed[k].detach().cpu().float().numpy() for k in INPUTS}
        (actions,) = self.sessions[embodiment].run(None, arrays)  # type: ignore[attr-defined]
        return torch.from_numpy(np.asarray(actions))

    def _session(self, graph: bytes):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
