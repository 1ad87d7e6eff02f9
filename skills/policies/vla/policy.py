"""VLAPolicy: a Tandem VLA with its normalization and instruction vectors, saved as one checkpoint folder.

A checkpoint is ``config.json`` + ``model.safetensors`` + ``stats.json`` + ``instructions.json``, and for
a LoRA run an ``adapter/`` folder written by peft (``model.safetensors`` then holds the frozen base
weights, so the folder is complete on its own). ``predict`` maps raw frames, joint vectors and
instruction texts to raw joint-target chunks; everything in between is the processor's job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from skills.policies.vla.configuration_vla import G1, VLAConfig
from skills.policies.vla.language import InstructionBank
from skills.policies.vla.modeling_vla import VLAModel
from skills.policies.vla.onnx_runtime import OnnxDenoiser
from skills.policies.vla.processor_vla import Normalizer, check_images, prepare_images

MODEL_FILE = "model.safetensors"
ADAPTER_DIR = "adapter"
INSTRUCTIONS_FILE = "instructions.json"
SAMPLE_SEED = 0  # inference noise is seeded: the same observation always gives the same chunk


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def is_peft(model: torch.nn.Module) -> bool:
    # Duck-typed: importing peft (and transformers behind it) costs seconds, paid only by LoRA runs.
    return hasattr(model, "get_base_model") and hasattr(model, "peft_config")


def base_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The base model's weights, also from inside a peft wrapper (adapter weights left out)."""
    if not is_peft(model):
        return {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    out = {}
    for k, v in model.get_base_model().state_dict().items():
        if "lora_" in k:
            continue
        out[k.replace(".base_layer.", ".")] = v.detach().contiguous()
    return out


class VLAPolicy:
    def __init__(
        self,
        config: VLAConfig,
        model: torch.nn.Module,
        normalizer: Normalizer,
        bank: InstructionBank | None = None,
        onnx: OnnxDenoiser | None = None,
    ) -> None:
        self.config = config
        self.model = model
        self.normalizer = normalizer
        self.bank = bank or InstructionBank()
        self.onnx = onnx  # when set, denoising runs on ONNX Runtime (``on_onnx_runtime``)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def network(self) -> VLAModel:
        """The VLAModel itself, also when wrapped by peft."""
        m = self.model
        return m.get_base_model() if is_peft(m) else m  # type: ignore[operator, return-value]

    @classmethod
    def create(cls, config: VLAConfig, normalizer: Normalizer, bank: InstructionBank | None = None):
        return cls(config, VLAModel(config), normalizer, bank)

    # ----------------------------------------------------------------- inference
    def inputs(
        self, images: np.ndarray, states: np.ndarray, instructions: list[str], embodiment: str
    ) -> dict[str, Any]:
        """Raw batch -> the network's tensors; raises naming what does not fit this checkpoint."""
        self.config.embodiment(embodiment)
        check_images(self.config, images)
        dev = self.device
        return {
            "images": prepare_images(self.config, torch.from_numpy(np.ascontiguousarray(images)).to(dev)),
            "language": torch.from_numpy(self.bank.get(instructions)).to(dev),
            "state": torch.from_numpy(self.normalizer.normalize(embodiment, "state", states)).to(dev),
        }

    def predict(
        self,
        images: np.ndarray,
        states: np.ndarray,
        instructions: list[str],
        embodiment: str = G1,
    ) -> np.ndarray:
        """Action chunks (B, chunk, action_dim) in joint units, from uint8 frames (B, H, W, 3), states
        (B, state_dim) and one instruction per row."""
        batch = self.inputs(images, states, instructions, embodiment)
        noise = self.network.noise(len(states), embodiment, torch.Generator().manual_seed(SAMPLE_SEED))
        if self.onnx is not None:
            x = self.onnx(embodiment, batch, noise)
        else:
            self.model.eval()
            with torch.inference_mode():
                x = self.network.denoise(embodiment, noise=noise.to(self.device), **batch)
        return self.normalizer.unnormalize(embodiment, "action", x.float().cpu().numpy())

    def quantized_int8(self) -> VLAPolicy:
        """This policy with its Linear layers in int8 (dynamic quantization: int8 weights, activations
        quantized per call), for CPU inference; a LoRA adapter must be merged first (``load(merge=True)``).
        docs/vla.md has what it saves and how far its actions drift."""
        if self.device.type != "cpu":
            raise ValueError("int8 inference runs on the CPU: load the policy with device=cpu")
        if is_peft(self.model):
            raise ValueError("merge the LoRA adapter before quantizing: VLAPolicy.load(..., merge=True)")
        import warnings

        with warnings.catch_warnings():
            # torch deprecates torch.ao.quantization for torchao (not installable offline here); 2.14 runs it.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", ".*quantize_per_tensor.*deprecated", UserWarning)
            model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        return VLAPolicy(self.config, model, self.normalizer, self.bank)

    def on_onnx_runtime(self, threads: int | None = None) -> VLAPolicy:
        """This policy with its denoising on ONNX Runtime (CPU, ``threads`` intra-op threads, default
        ``OMP_NUM_THREADS`` else every core): the same actions to ~1e-6 at about half the CPU time per
        chunk (docs/vla.md). A LoRA adapter must be merged first (``load(merge=True)``)."""
        if self.device.type != "cpu":
            raise ValueError("the ONNX runtime runs on the CPU: load the policy with device=cpu")
        if is_peft(self.model):
            raise ValueError("merge the LoRA adapter before exporting: VLAPolicy.load(..., merge=True)")
        onnx = OnnxDenoiser(self.network, threads)
        return VLAPolicy(self.config, self.model, self.normalizer, self.bank, onnx)

    # ----------------------------------------------------------------- files
    def save(self, folder: Path, dtype: torch.dtype | None = None) -> None:
        """Write the checkpoint folder; ``dtype`` (torch.float16) stores the weights smaller, and load
        casts them back to float32."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder)
        self.normalizer.save(folder)
        self.bank.save(folder / INSTRUCTIONS_FILE)
        weights = base_state_dict(self.model)
        if dtype is not None:
            weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in weights.items()}
        save_file(weights, str(folder / MODEL_FILE))
        if is_peft(self.model):
            self.model.save_pretrained(str(folder / ADAPTER_DIR))  # type: ignore[operator]

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", merge: bool = False) -> VLAPolicy:
        """Load a checkpoint folder; a LoRA adapter is applied (and folded into the weights if ``merge``)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"checkpoint folder not found: {folder}")
        config = VLAConfig.load(folder)
        normalizer = Normalizer.load(folder)
        weights = folder / MODEL_FILE
        if not weights.is_file():
            raise FileNotFoundError(f"{folder}: checkpoint has no {MODEL_FILE}")
        model: torch.nn.Module = VLAModel(config)
        try:
            model.load_state_dict(load_file(str(weights)))
        except RuntimeError as e:
            raise ValueError(f"{weights}: weights do not fit {folder / 'config.json'}: {e}") from None
        if (folder / ADAPTER_DIR).is_dir():
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(folder / ADAPTER_DIR))
            if merge:
                model = model.merge_and_unload()
        model.to(resolve_device(device)).eval()
        return cls(config, model, normalizer, InstructionBank.load(folder / INSTRUCTIONS_FILE))


RUNTIMES = ("auto", "torch", "onnx", "int8")


def load_for_inference(folder: str | Path, device: str = "cpu", runtime: str = "auto") -> VLAPolicy:
    """A checkpoint ready to act, LoRA merged. ``runtime``: ``torch``; ``onnx`` (CPU only); ``int8``
    (torch's dynamic int8 Linear layers, CPU only); ``auto``: onnx where the policy lands on the CPU, else
    torch."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    policy = VLAPolicy.load(folder, device=device, merge=True)
    if runtime == "auto":
        runtime = "onnx" if policy.device.type == "cpu" else "torch"
    if runtime == "int8":
        return policy.quantized_int8()
    if runtime == "onnx":
        # ONNX Runtime gets the cores; torch keeps one thread for the frame's resize. Two thread pools
        # spinning on the same two cores cost ~10 ms a chunk (docs/vla.md, "Measured").
        torch.set_num_threads(1)
        return policy.on_onnx_runtime()
    return policy
