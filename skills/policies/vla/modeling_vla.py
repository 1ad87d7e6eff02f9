"""The Tandem VLA network: vision-language tokens in, a flow-matching DiT head that denoises action chunks.

Everything here works on normalized tensors; ``processor_vla`` turns camera frames, instructions and
joint vectors into them and back. Attention and MLP projections are plain ``nn.Linear`` layers with
stable names (``to_q``, ``to_k``, ``to_v``, ``to_out``, ``fc1``, ``fc2``) so LoRA can target them.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from skills.policies.vla.configuration_vla import VLAConfig


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.Linear(dim, dim)
        self.dropout = dropout

    def keys_values(self, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.to_k(ctx), self.to_v(ctx)

    def forward(
        self,
        x: torch.Tensor,
        ctx: torch.Tensor | None = None,
        kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Self-attention, or cross-attention to ``ctx`` (or to its projections ``kv``, computed once)."""
        k, v = kv if kv is not None else self.keys_values(x if ctx is None else ctx)
        b, n, d = x.shape
        q, k, v = (t.view(b, -1, self.heads, d // self.heads).transpose(1, 2) for t in (self.to_q(x), k, v))
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.to_out(out.transpose(1, 2).reshape(b, n, d))


class MLP(nn.Module):
    def __init__(self, dim: int, ratio: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, int(dim * ratio))
        self.fc2 = nn.Linear(int(dim * ratio), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (the vision-language mixer)."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.hidden), nn.LayerNorm(cfg.hidden)
        self.attn = Attention(cfg.hidden, cfg.heads, cfg.dropout)
        self.mlp = MLP(cfg.hidden, cfg.mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DiTBlock(nn.Module):
    """Self-attention over the state + action tokens, cross-attention to the vision-language tokens,
    an MLP; the flow time conditions every part through adaptive LayerNorm (zero-initialized gates)."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        d = cfg.hidden
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.self_attn = Attention(d, cfg.heads, cfg.dropout)
        self.norm2 = nn.LayerNorm(d)
        self.cross_attn = Attention(d, cfg.heads, cfg.dropout)
        self.norm3 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = MLP(d, cfg.mlp_ratio)
        self.ada = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        s1, b1, g1, s2, b2, g2 = self.ada(F.silu(cond)).unsqueeze(1).chunk(6, dim=-1)
        x = x + g1 * self.self_attn(self.norm1(x) * (1 + s1) + b1)
        x = x + self.cross_attn(self.norm2(x), kv=kv)
        return x + g2 * self.mlp(self.norm3(x) * (1 + s2) + b2)


class ResStage(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.norm1 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, cout)
        self.skip = nn.Conv2d(cin, cout, 1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm2(self.conv2(F.gelu(self.norm1(self.conv1(x)))))
        return F.gelu(y + self.skip(x))


class VisionEncoder(nn.Module):
    """A small residual CNN trained from scratch: (B, 3, R, R) in [0, 1] -> (B, tokens, hidden).

    Each output cell is a token with a learned position, so the action head can attend to where things
    are (the block's pixel position is the object pose the policy has to infer)."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        c = cfg.vision_channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, c[0], 5, stride=2, padding=2), nn.GroupNorm(8, c[0]), nn.GELU()
        )
        self.stages = nn.Sequential(*(ResStage(a, b) for a, b in itertools.pairwise(c)))
        side = cfg.vision_resolution
        for _ in range(len(c)):
            side = (side + 1) // 2
        self.tokens = side * side
        self.proj = nn.Linear(c[-1], cfg.hidden)
        self.pos = nn.Parameter(torch.randn(1, self.tokens, cfg.hidden) * 0.02)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem((images - self.mean) / self.std))
        return self.proj(x.flatten(2).transpose(1, 2)) + self.pos


def timestep_embedding(t: torch.Tensor, dim: int, buckets: int) -> torch.Tensor:
    """Sinusoidal embedding of flow time t in [0, 1], discretized to ``buckets`` steps as GR00T does."""
    steps = (t * (buckets - 1)).round()
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = steps.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class EmbodimentProjections(nn.Module):
    """One robot's way in and out of the shared trunk."""

    def __init__(self, state_dim: int, action_dim: int, hidden: int) -> None:
        super().__init__()
        self.state_in = nn.Sequential(nn.Linear(state_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.action_in = nn.Linear(action_dim, hidden)
        self.action_out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, action_dim))


class ActionHead(nn.Module):
    """The flow-matching DiT: predicts the velocity that carries noise to the action chunk."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        d = cfg.hidden
        self.cfg = cfg
        self.embodiments = nn.ModuleDict(
            {n: EmbodimentProjections(e.state_dim, e.action_dim, d) for n, e in cfg.embodiments.items()}
        )
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.pos = nn.Parameter(torch.randn(1, cfg.chunk + 1, d) * 0.02)
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.dit_layers))

    def context(self, ctx: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each block's keys and values of the vision-language tokens: the same for every denoising step."""
        return [block.cross_attn.keys_values(ctx) for block in self.blocks]

    def forward(
        self,
        embodiment: str,
        noisy: torch.Tensor,
        t: torch.Tensor,
        state: torch.Tensor,
        kvs: list[tuple[torch.Tensor, torch.Tensor]],
    ) -> torch.Tensor:
        proj = self.embodiments[embodiment]
        cond = self.time_mlp(timestep_embedding(t, self.cfg.hidden, self.cfg.time_buckets))
        x = torch.cat([proj.state_in(state)[:, None], proj.action_in(noisy)], dim=1) + self.pos
        for block, kv in zip(self.blocks, kvs, strict=True):
            x = block(x, cond, kv)
        return proj.action_out(x[:, 1:])


class VLAModel(nn.Module):
    """Args (forward / denoise): embodiment name; images (B, 3, R, R) floats in [0, 1]; language (B, 384)
    sentence vectors; state (B, S) and actions (B, chunk, A) normalized."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        self.vla_config = cfg  # not `config`: peft reads a model's `config` as a transformers one
        d = cfg.hidden
        self.vision = VisionEncoder(cfg)
        self.language = nn.Linear(cfg.language_dim, cfg.language_tokens * d)
        self.token_type = nn.Parameter(torch.zeros(2, d))
        self.vl = nn.ModuleList(Block(cfg) for _ in range(cfg.vl_layers))
        self.vl_norm = nn.LayerNorm(d)
        self.action_head = ActionHead(cfg)

    def encode(self, images: torch.Tensor, language: torch.Tensor) -> torch.Tensor:
        """The vision-language tokens the action head attends to: (B, vision + language tokens, hidden)."""
        vis = self.vision(images) + self.token_type[0]
        lang = self.language(language).unflatten(1, (self.vla_config.language_tokens, -1))
        lang = lang + self.token_type[1]
        x = torch.cat([vis, lang], dim=1)
        for block in self.vl:
            x = block(x)
        return self.vl_norm(x)

    def sample_time(self, n: int, device: torch.device) -> torch.Tensor:
        beta = torch.distributions.Beta(self.vla_config.beta_alpha, self.vla_config.beta_beta)
        return (0.999 - beta.sample((n,)).to(device)) / 0.999

    def forward(
        self,
        embodiment: str,
        images: torch.Tensor,
        language: torch.Tensor,
        state: torch.Tensor,
        actions: torch.Tensor,
    ) -> torch.Tensor:
        """The flow-matching loss (MSE on the velocity) for a batch of demonstrated chunks."""
        ctx = self.encode(images, language)
        t = self.sample_time(len(actions), actions.device)
        noise = torch.randn_like(actions)
        tt = t[:, None, None]
        noisy = (1 - tt) * noise + tt * actions
        pred = self.action_head(embodiment, noisy, t, state, self.action_head.context(ctx))
        return F.mse_loss(pred.float(), (actions - noise).float())

    def noise(self, n: int, embodiment: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """The Gaussian chunk denoising starts from, (n, chunk, A). Drawn on the CPU, so a seeded generator
        gives the same chunk on every device and runtime."""
        cfg = self.vla_config
        return torch.randn((n, cfg.chunk, cfg.embodiment(embodiment).action_dim), generator=generator)

    def denoise(
        self,
        embodiment: str,
        images: torch.Tensor,
        language: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        """A normalized action chunk (B, chunk, A), integrated from ``noise`` in ``denoise_steps`` Euler
        steps. A pure function of its tensors: what the ONNX export traces."""
        cfg = self.vla_config
        ctx = self.encode(images, language)
        kvs = self.action_head.context(ctx)
        x = noise.to(ctx.dtype)
        dt = 1.0 / cfg.denoise_steps
        for k in range(cfg.denoise_steps):
            x = x + dt * self.action_head(embodiment, x, state.new_full(state.shape[:1], k * dt), state, kvs)
        return x


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
