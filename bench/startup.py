"""Start-up time and memory of `gridbot run` (sandbox transport, SQLite) against a bare Python start.

    python -m bench.startup [--runs 3] [--check]

Ready = the sandbox URL line is printed AND GET /healthz answers 200. Each run starts on a fresh
database (so Alembic creates every table), then starts a second time on that database (a restart,
the usual case). Memory: VmRSS of the process right after ready and its peak VmHWM
(/proc/<pid>/status). Baselines in the same run: `python -c "import aiohttp, sqlalchemy"` (the
interpreter and the two biggest libraries) and `python -c "import bot.app"` (all of gridbot's imports).

Targets (issue): ready ≤ 3 s and ≤ 200 MB (medians of --runs). --check exits 1 when missed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.common import CONFIG, ROOT, machine, median, proc_status_mb, table, verdict

TARGET_SECONDS = 3.0
TARGET_MB = 200.0
URL_LINE = re.compile(r"(http://\S+)/sandbox")


def bare_start(code: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
    return time.perf_counter() - t0


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_bot(data: Path, timeout: float = 60) -> dict:
    """One `gridbot run`: seconds to ready, RSS and peak after ready; stopped with SIGTERM."""
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        GRIDBOT_WEB_PORT="0",  # a free port; the URL line names it
        GRIDBOT_STORAGE_URL=f"sqlite+aiosqlite:///{data}/gridbot.db",
        GRIDBOT_STORAGE_DATA_DIR=str(data),
        GRIDBOT_TRANSPORT_KIND="sandbox",
    )
    t0 = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(CONFIG)], cwd=data, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = None
        while base is None:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"gridbot run exited ({process.wait()}) before printing the sandbox URL")
            match = URL_LINE.search(line)
            if match:
                base = match.group(1)
        printed = time.perf_counter() - t0
        while not healthy(base):
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError("/healthz never answered 200")
            time.sleep(0.01)
        ready = time.perf_counter() - t0
        memory = proc_status_mb(process.pid)
        return {"printed": printed, "ready": ready, "rss": memory["VmRSS"], "hwm": memory["VmHWM"]}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    print(f"machine: {machine()}")
    bare = [bare_start("import aiohttp, sqlalchemy") for _ in range(args.runs)]
    bare_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    imports = [bare_start("import bot.app") for _ in range(args.runs)]
    imports_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    fresh, restart = [], []
    for _ in range(args.runs):
        data = Path(tempfile.mkdtemp(prefix="gridbot-startup-"))
        try:
            fresh.append(start_bot(data))
            restart.append(start_bot(data))
        finally:
            shutil.rmtree(data, ignore_errors=True)

    def row(label: str, runs: list[dict]) -> tuple:
        return (label, f"{median(r['printed'] for r in runs):.2f}", f"{median(r['ready'] for r in runs):.2f}",
                f"{median(r['rss'] for r in runs):.0f}", f"{median(r['hwm'] for r in runs):.0f}",
                " ".join(f"{r['ready']:.2f}" for r in runs))

    rows = [
        ('python -c "import aiohttp, sqlalchemy"', "", f"{median(bare):.2f}", "", f"{bare_peak:.0f}",
         " ".join(f"{b:.2f}" for b in bare)),
        ('python -c "import bot.app"', "", f"{median(imports):.2f}", "", f"{imports_peak:.0f}",
         " ".join(f"{b:.2f}" for b in imports)),
        row("gridbot run, fresh database", fresh),
        row("gridbot run, restart", restart),
    ]
    print(f"medians of {args.runs} runs; seconds from process start; MB")
    print(table(rows, ("", "URL printed s", "ready s", "RSS MB", "peak MB", "runs (ready s)")))
    ready = max(median(r["ready"] for r in fresh), median(r["ready"] for r in restart))
    rss = max(median(r["rss"] for r in fresh), median(r["rss"] for r in restart))
    peak = max(median(r["hwm"] for r in fresh), median(r["hwm"] for r in restart))
    print(f"ready {ready:.2f} s (×{ready / median(bare):.1f} the bare start), target ≤ {TARGET_SECONDS:g} s: "
          f"{verdict(ready <= TARGET_SECONDS)}")
    print(f"RSS after ready {rss:.0f} MB, target ≤ {TARGET_MB:g} MB: {verdict(rss <= TARGET_MB)}")
    print(f"peak RSS (VmHWM) {peak:.0f} MB, target ≤ {TARGET_MB:g} MB: {verdict(peak <= TARGET_MB)}")
    ok = ready <= TARGET_SECONDS and rss <= TARGET_MB and peak <= TARGET_MB
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
