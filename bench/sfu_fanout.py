"""SFU fan-out: one publisher (640x360 30 fps VP8 ~1.4 Mbit/s + Opus) to N subscribers.

The SFU under test is a real worker process (``python -m media.workers --media-address
127.0.0.1``), fresh for every N and pinned to CPU 0 with taskset; the publisher and all the
subscribers run in one load process (bench/sfu/load.py) pinned to CPU 1. N-1 subscribers only
count RTP (packets, sequence gaps, VP8 keyframe starts, no decoding); the last one joins after
them and decodes every frame, reading the capture clock drawn into it (latency) and its time
to first frame. Per N: the worker's CPU (cores, /proc/PID/stat over the steady window),
packets/s received by all subscribers, gaps, UDP drops on the worker's and the load's sockets
(/proc/net/udp), probe latency p50/p95, time to first keyframe for the joiners.

Baselines: aiortc's MediaRelay in a process of its own on CPU 0 (decode once, encode once per
subscriber: the naive relay) at N = 1, 2, 4, and the direct peer-to-peer latency (N = 1, no
server).

    python bench/sfu_fanout.py                    # N = 1 10 25 50 100, relay 1 2 4, direct
    python bench/sfu_fanout.py --quick            # N = 1 10, relay 1, direct (~1.5 min)
    python bench/sfu_fanout.py --n 1 5 --relay-n  # choose the points (no relay)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOAD = ROOT / "bench" / "sfu" / "load.py"

# published per-core figures (docs/benchmarks.md, "SFU fan-out")
LIVEKIT_SUBSCRIBERS_PER_CORE = 200  # 1 -> 3000 at ~1.4 Mbit/s on 16 vCPU at 92 %
MEDIASOUP_CONSUMERS_PER_CORE = 500  # a subscriber here is 2 consumers (video + audio)


def taskset() -> str:
    path = shutil.which("taskset")
    if path is None:
        sys.exit("needs taskset (util-linux)")
    return path


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), e.get("PYTHONPATH")) if p)
    return e


@contextlib.contextmanager
def server(kind: str, sock: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    if kind == "worker":
        command = [
            sys.executable,
            "-m",
            "media.workers",
            "--worker-id",
            "bench",
            "--control-socket",
            str(sock),
            "--media-address",
            "127.0.0.1",
            "--capacity",
            "1000",
            "--log-level",
            "WARNING",
        ]
    else:
        command = [sys.executable, str(LOAD), "relay", "--socket", str(sock)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 -- our own fixed command line
            [taskset(), "-c", "0", *command], cwd=ROOT, env=env(), stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not start, see {log}")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        sock.unlink(missing_ok=True)


def run_load(mode: str, n: int, sock: Path, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        taskset(),
        "-c",
        "1",
        sys.executable,
        str(LOAD),
        "load",
        "--mode",
        mode,
        "--n",
        str(n),
        "--window",
        str(args.window),
        "--warmup",
        str(args.warmup),
        "--socket",
        str(sock),
        "--sfu-pid",
        str(pid),
    ]
    timeout = 60 + args.window + n * 0.6
    done = subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=env(), capture_output=True, timeout=timeout, check=False
    )
    lines = [line for line in done.stdout.decode().splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.decode()[-2000:]
        raise RuntimeError(f"load {mode} N={n} failed (rc {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def phase(mode: str, n: int, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    sock = tmp / f"{mode}.sock"
    if mode == "direct":
        result = run_load(mode, n, sock, 0, args)
    else:
        with server(mode, sock, tmp / f"{mode}-{n}.log") as process:
            time.sleep(0.5)
            result = run_load(mode, n, sock, process.pid, args)
    print(row(result), flush=True)
    return result


HEADER = (
    f"{'mode':<8}{'N':>4}{'SFU cores':>10}{'load cores':>11}{'pkts/s':>8}{'fps min':>8}"
    f"{'kbit/s':>8}{'gaps':>6}{'drops sfu/load':>15}{'lat p50/p95':>13}{'TTFF probe':>11}"
    f"{'key p50/max':>12}{'other':>7}"
)


def fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def row(r: dict[str, Any]) -> str:
    drops = f"{fmt(r['sfu_udp_drops'])}/{r['load_udp_drops']}"
    latency = f"{fmt(r['latency_p50_ms'])}/{fmt(r['latency_p95_ms'])}"
    key = f"{fmt(r['first_keyframe_p50_s'])}/{fmt(r['first_keyframe_max_s'])}"
    return (
        f"{r['mode']:<8}{r['n']:>4}{fmt(r['sfu_cores'], 3):>10}{fmt(r['load_cores'], 3):>11}"
        f"{r['packets_per_s']:>8}{r['video_fps_min']:>8}{r['video_kbps_mean']:>8}{r['gaps']:>6}"
        f"{drops:>15}{latency:>13}{fmt(r['probe_first_frame_s']):>11}{key:>12}"
        f"{fmt(r['other_cores']):>7}{'  LOAD SATURATED' if r['load_cores'] > 0.9 else ''}"
    )


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares intercept and slope of cores against N."""
    if len(points) == 1:
        n, cores = points[0]
        return 0.0, cores / n
    mean_n = sum(n for n, _ in points) / len(points)
    mean_c = sum(c for _, c in points) / len(points)
    slope = sum((n - mean_n) * (c - mean_c) for n, c in points) / sum(
        (n - mean_n) ** 2 for n, _ in points
    )
    return mean_c - slope * mean_n, slope


def summary(results: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    forward = [(r["n"], r["sfu_cores"]) for r in results if r["mode"] == "worker"]
    relay = [(r["n"], r["sfu_cores"]) for r in results if r["mode"] == "relay"]
    direct = [r for r in results if r["mode"] == "direct"]
    slope = 0.0
    if len(forward) >= 2:
        fixed, slope = fit(forward)
        per_core = (1 - fixed) / slope if slope > 0 else float("inf")
        lines.append(
            f"forwarding: {fixed:.3f} + {slope:.4f} cores per subscriber "
            f"(fit over N={','.join(str(n) for n, _ in forward)}); "
            f"one core ~ {per_core:.0f} subscribers"
        )
        busiest = max((r for r in results if r["mode"] == "worker"), key=lambda r: r["n"])
        if busiest["sfu_cores"]:
            us = busiest["sfu_cores"] / busiest["packets_per_s"] * 1e6
            lines.append(
                f"  at N={busiest['n']}: {busiest['packets_per_s'] / busiest['sfu_cores']:.0f} "
                f"packets/s per core ({us:.0f} us per forwarded packet)"
            )
        lines.append(
            f"  per core: {per_core / LIVEKIT_SUBSCRIBERS_PER_CORE:.2f}x LiveKit's "
            f"~{LIVEKIT_SUBSCRIBERS_PER_CORE} subscribers, "
            f"{per_core * 2 / MEDIASOUP_CONSUMERS_PER_CORE:.2f}x mediasoup's "
            f"~{MEDIASOUP_CONSUMERS_PER_CORE} consumers (a subscriber here is 2 consumers); "
            "linear extrapolation from the measured points"
        )
    if relay:
        r_fixed, r_slope = fit(relay)
        per_sub = ", ".join(f"N={n}: {c / n:.3f}" for n, c in relay)
        lines.append(
            f"MediaRelay (re-encode): {r_fixed:.3f} + {r_slope:.3f} cores per subscriber; "
            f"cores per subscriber {per_sub}"
        )
        if slope > 0:
            lines.append(f"  marginal cost ratio relay/forwarding: {r_slope / slope:.0f}x")
        for n, cores in relay:
            fw = next((c for m, c in forward if m == n), None)
            if fw:
                lines.append(
                    f"  N={n}: relay {cores:.3f} vs forward {fw:.3f} cores = {cores / fw:.1f}x"
                )
    for r in direct:
        lines.append(
            f"direct P2P reference (no server): latency p50/p95 "
            f"{r['latency_p50_ms']}/{r['latency_p95_ms']} ms"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="*", default=[1, 10, 25, 50, 100])
    parser.add_argument("--relay-n", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--no-direct", action="store_true")
    parser.add_argument("--quick", action="store_true", help="N = 1 10, relay 1, direct")
    parser.add_argument("--window", type=float, default=12.0, help="steady window (s)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.n, args.relay_n, args.window = [1, 10], [1], 10.0
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 CPUs (the SFU on CPU 0, the load on CPU 1)")
    tmp = Path(tempfile.mkdtemp(prefix="sfub", dir="/tmp"))
    started = time.monotonic()
    print(HEADER, flush=True)
    results: list[dict[str, Any]] = []
    try:
        plan = [("worker", n) for n in args.n] + [("relay", n) for n in args.relay_n]
        if not args.no_direct:
            plan.append(("direct", 1))
        for mode, n in plan:
            try:
                results.append(phase(mode, n, tmp, args))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{mode} N={n}: FAILED {exc}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    for line in summary(results):
        print(line)
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
