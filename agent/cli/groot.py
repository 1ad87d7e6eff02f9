"""``tandem groot ping|serve``: talk to a GR00T policy server, or be one."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.errors import user_errors

console = Console()
app = typer.Typer(
    help="GR00T policy servers (Isaac-GR00T's ZeroMQ protocol, N1.5 and N1.6): check one, or serve one.",
    no_args_is_help=True,
)


@app.command()
def ping(
    url: Annotated[str, typer.Argument(help="groot://HOST:PORT[?version=n1.5|n1.6&token=T&timeout=S]")],
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="pings to time")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Print the server's wire version, modality config and round-trip latency."""
    from skills.policies.groot.client import GrootClient, GrootError
    from skills.policies.groot.protocol import ProtocolError

    with user_errors(ValueError, GrootError, ProtocolError):
        client = GrootClient.from_url(url)
        rtt = [client.ping() for _ in range(count)]
        spec = client.spec()
    client.close()
    median_ms = statistics.median(rtt) * 1000
    result = {
        "address": client.address,
        "version": spec.version,
        "ping_ms": {"median": round(median_ms, 3), "max": round(max(rtt) * 1000, 3), "count": count},
        "video": spec.video_keys,
        "state": spec.state_keys,
        "action": spec.action_keys,
        "action_horizon": spec.action_horizon,
        "action_reps": spec.action_reps,
        "language": spec.language_key,
    }
    if as_json:
        print(json.dumps(result))
        return
    console.print(
        f"[bold]{client.address}[/]: GR00T {spec.version} wire, ping {median_ms:.2f} ms median of {count}"
    )
    t = Table("modality", "keys", "horizon")
    t.add_row("video", ", ".join(spec.video_keys) or "(not stated)", str(spec.video_horizon))
    t.add_row("state", ", ".join(spec.state_keys) or "(not stated)", str(spec.state_horizon))
    reps = [f"{k} ({spec.action_reps[k].lower()})" if k in spec.action_reps else k for k in spec.action_keys]
    t.add_row("action", ", ".join(reps) or "(not stated)", str(spec.action_horizon or "?"))
    t.add_row("language", spec.language_key, "1")
    console.print(t)


@app.command()
def serve(
    replay: Annotated[
        Path | None,
        typer.Option("--replay", help="answer with the recorded actions of this LeRobot v2.1 dataset"),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="serve this Tandem VLA checkpoint folder")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="--policy: torch device: auto, cpu, cuda")] = "auto",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free one)")] = 5555,
    host: Annotated[str, typer.Option("--host", help="interface to bind (* = all)")] = "*",
    version: Annotated[str, typer.Option("--version", help="wire format: n1.5 or n1.6")] = "n1.6",
    token: Annotated[str | None, typer.Option("--token", help="api token clients must send")] = None,
    k: Annotated[
        int, typer.Option("--k", min=1, help="replay: steps moved on per request (the client's k)")
    ] = 8,
    episode: Annotated[int, typer.Option("--episode", min=0, help="replay: episode replayed first")] = 0,
    latency_ms: Annotated[
        float,
        typer.Option("--latency-ms", min=0, help="delay every answer by this much (rehearse a slow server)"),
    ] = 0.0,
) -> None:
    """Serve a policy over GR00T's protocol until Ctrl-C (or a client's `kill`).

    `--policy CKPT` serves a Tandem VLA checkpoint (GR00T's own clients can drive a robot from it).
    `--replay DATASET` answers like GR00T's ReplayPolicy: each request gets the next 16 recorded actions
    and moves on by k; `reset` starts over (options episode_index, step_index).
    """
    from skills.policies.groot.replay import DatasetError, ReplayPolicy
    from skills.policies.groot.server import GrootServer
    from skills.policies.groot.wire import VERSIONS

    with user_errors(ValueError, DatasetError, OSError):
        if version not in VERSIONS:
            raise ValueError(f"--version must be one of {', '.join(VERSIONS)}, got '{version}'")
        if (replay is None) == (policy is None):
            raise ValueError("say what to serve: --policy CKPT or --replay DATASET (one of them)")
        if replay is not None:
            served = ReplayPolicy(replay, version, execution_horizon=k, episode=episode)  # type: ignore[arg-type]
            what = f"replay of {replay} ({len(served.episodes)} episodes, episode {episode}, k={k})"
        else:
            from skills.policies.groot.vla_served import VLAServed

            served = VLAServed(policy, version, device=device)  # type: ignore[arg-type,assignment]
            what = f"Tandem VLA {policy} on {served.policy.device}"
        server = GrootServer(served, port=port, host=host, token=token, delay_s=latency_ms / 1000)
    # Tests and scripts wait for this line: the socket is bound when it is printed.
    print(f"GR00T {version} server on tcp://{host}:{server.port}: {what}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
