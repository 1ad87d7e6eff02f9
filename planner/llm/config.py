"""LLMConfig: the LLM planner's settings, from ``tandem run`` flags (planner_options) and the environment.

Environment: OPENAI_BASE_URL, OPENAI_API_KEY, TANDEM_MODEL, TANDEM_LLM_TIMEOUT (s), TANDEM_LLM_TEMPERATURE,
TANDEM_LLM_MODE. Options (RunConfig.planner_options, saved in meta.json) override the environment, except
the API key, which is only ever read from the environment so that it is never written to a run record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MODES = ("json_schema", "tools", "json")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


@dataclass
class LLMConfig:
    """Args:
    base_url: the OpenAI-compatible endpoint (``.../v1``).
    model: the model name sent with every request.
    mode: auto, json_schema, tools or json (auto tries them in that order, on 400s).
    timeout_s: per HTTP request.
    temperature: sampling temperature.
    max_tokens: reply budget per request.
    max_attempts: replies per plan (the first one plus repairs).
    max_retries: extra tries per request on 429, 5xx, timeouts and refused connections.
    backoff_s: first backoff; doubled each retry.
    max_retry_after_s: a Retry-After up to this is honoured; a longer one ends the call.
    prompt, replan_prompt, request_prompt, repair_prompt: template files (planner/prompts/).
    fallback: offline (the recipe planner takes over when the endpoint fails) or none.
    replay: a run folder whose llm.jsonl answers instead of a server.
    """

    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    mode: str = "auto"
    timeout_s: float = 60.0
    temperature: float = 0.0
    max_tokens: int = 2048
    max_attempts: int = 3
    max_retries: int = 3
    backoff_s: float = 0.5
    max_retry_after_s: float = 10.0
    prompt: str = str(PROMPTS / "system.md")
    replan_prompt: str = str(PROMPTS / "replan.md")
    request_prompt: str = str(PROMPTS / "request.md")
    repair_prompt: str = str(PROMPTS / "repair.md")
    fallback: str = "offline"
    replay: str | None = None
    api_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.mode != "auto" and self.mode not in MODES:
            raise ValueError(f"unknown LLM mode '{self.mode}'; modes: auto, {', '.join(MODES)}")
        if self.fallback not in ("offline", "none"):
            raise ValueError(f"unknown fallback '{self.fallback}'; use offline or none")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for name in ("prompt", "replan_prompt", "request_prompt", "repair_prompt"):
            if not Path(getattr(self, name)).is_file():
                raise ValueError(f"no prompt file {getattr(self, name)}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> LLMConfig:
        env = os.environ if env is None else env
        known = {f.name for f in fields(cls)} - {"api_key"}
        unknown = set(options) - known - {"llm"}
        if unknown:
            raise ValueError(f"unknown LLM planner options {sorted(unknown)}; options: {sorted(known)}")
        values: dict[str, Any] = {}
        if env.get("OPENAI_BASE_URL"):
            values["base_url"] = env["OPENAI_BASE_URL"]
        if env.get("TANDEM_MODEL"):
            values["model"] = env["TANDEM_MODEL"]
        if env.get("TANDEM_LLM_TIMEOUT"):
            values["timeout_s"] = float(env["TANDEM_LLM_TIMEOUT"])
        if env.get("TANDEM_LLM_TEMPERATURE"):
            values["temperature"] = float(env["TANDEM_LLM_TEMPERATURE"])
        if env.get("TANDEM_LLM_MODE"):
            values["mode"] = env["TANDEM_LLM_MODE"]
        values.update({k: v for k, v in options.items() if k in known and v is not None})
        spec = options.get("llm")
        if spec:  # --llm replay:RUN_DIR, or --llm MODEL
            if str(spec).startswith("replay:"):
                values["replay"] = str(spec)[len("replay:") :]
            else:
                values["model"] = str(spec)
        return cls(**values, api_key=env.get("OPENAI_API_KEY", ""))

    def public(self) -> dict[str, Any]:
        """Everything but the key, for records."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
