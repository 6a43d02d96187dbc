"""Reply latency through the real wechaty gateway: gridbot against a bare python-wechaty echo bot.

    python -m bench.gateway [--messages 30] [--check]

Needs Node and `npm ci` in tests/e2e/gateway. For each bot, a fresh gateway (tests/e2e/gateway,
wechaty-puppet-service + a mock account) and the bot as its own process:
- baseline: `python -m bench.wechaty_echo`, python-wechaty 0.10.7 alone, replying with room.say;
- gridbot: `python -m bot run` with transport kind "wechaty" (SQLite, pacing off, other
  settings as shipped);
- for reference, the echo bot with --durable: it classifies and commits each message, a ticket
  and its reply and alert in one plain sqlite3 transaction before replying — the least any bot
  that keeps its promises must do, so what gridbot takes above it is gridbot's own code.
Residents say reports (varied, in the three resident groups) through the control API, one at a
time; latency = the gateway's `time` of the bot's reply in that room minus the gateway's `time`
of the resident's message (both stamped by the gateway, in ms). The time from the /say call to
seeing the reply in GET /sent (polled every 5 ms) is printed too.

Target (issue): gridbot within 1.5 × the echo bot (p50 and p90). --check exits 1 when missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.common import CONFIG, REPORTS, ROOT, machine, percentile, table, verdict
from devtools.wechaty_gateway import Gateway

TARGET_RATIO = 1.5
# Residents of tests/e2e/gateway/fixtures/xiyuan.json, by room.
SPEAKERS = (
    ("room-1@chatroom", "wxid_wangayi"), ("room-3@chatroom", "wxid_lidaye"), ("room-5@chatroom", "wxid_chenxj"),
    ("room-1@chatroom", "wxid_zhangxs"), ("room-3@chatroom", "wxid_liunvshi"), ("room-5@chatroom", "wxid_zhangxs"),
)


async def start_process(argv: list[str], env: dict, cwd: Path, ready_word: str) -> asyncio.subprocess.Process:
    with (cwd / "bot.log").open("ab") as log:  # the child keeps its own handle
        process = await asyncio.create_subprocess_exec(*argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
                                                       stderr=log)
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    if ready_word not in line.decode():
        raise RuntimeError(f"{argv[2]} did not start: {line!r}; see {cwd / 'bot.log'}")
    return process


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(REPORTS).format(b=rng.randint(1, 30), u=rng.randint(1, 6)) for _ in range(n)]


async def measure(gateway: Gateway, n: int, warmup: int = 3) -> dict:
    """Say n reports one at a time; per report, the reply's latency (gateway clock and seen from here)."""
    gateway_ms, seen_ms = [], []
    said = texts(n + warmup, seed=11)
    for i, text in enumerate(said):
        room, who = SPEAKERS[i % len(SPEAKERS)]
        before = len(await gateway.call("GET", "/sent"))
        t0 = time.perf_counter()
        answer = await gateway.call("POST", "/say", {"from": who, "room": room, "text": text})
        if not answer.get("delivered", True):
            raise RuntimeError("the bot was not attached to the gateway")
        deadline = t0 + 20
        while True:
            sent = await gateway.call("GET", "/sent")
            reply = next((s for s in sent[before:] if s.get("room") == room), None)
            if reply is not None:
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no reply in {room} to {text!r}")
            await asyncio.sleep(0.005)
        seen = time.perf_counter() - t0
        messages = await gateway.call("GET", "/messages")
        spoken = next(m for m in messages if m["id"] == answer["message_id"])
        if i >= warmup:
            gateway_ms.append(reply["time"] - spoken["time"])
            seen_ms.append(seen * 1000)
        await asyncio.sleep(0.3)  # let the staff alert go out before the next report
    return {"gateway": gateway_ms, "seen": seen_ms}


async def run_on_gateway(n: int, prefix: str, command, ready: str, extra_env) -> dict:
    """Start a fresh gateway and one bot process against it, measure n reports, clean up."""
    gateway = await Gateway.start()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        env = dict(os.environ, PYTHONPATH=str(ROOT), **extra_env(gateway, work))
        process = await start_process(command(gateway, work), env, work, ready)
        try:
            await gateway.wait_attached(timeout=60, poll=0.05)
            return await measure(gateway, n)
        finally:
            await stop_process(process)
    finally:
        await gateway.close()
        shutil.rmtree(work, ignore_errors=True)


async def run_echo(n: int, *, durable: bool = False) -> dict:
    def command(gw: Gateway, work: Path) -> list[str]:
        argv = [sys.executable, "-m", "bench.wechaty_echo", "--endpoint", gw.endpoint, "--token", gw.token]
        return argv + ["--durable", str(work / "echo.db")] if durable else argv

    return await run_on_gateway(n, "gridbot-echo-", command, "ready", lambda gw, work: {})


async def run_gridbot(n: int) -> dict:
    return await run_on_gateway(
        n, "gridbot-gw-",
        lambda gw, work: [sys.executable, "-m", "bot", "run", "--config", str(CONFIG)],
        "已启动",
        lambda gw, work: dict(
            GRIDBOT_TRANSPORT_KIND="wechaty",
            WECHATY_PUPPET_SERVICE_ENDPOINT=gw.endpoint,
            WECHATY_PUPPET_SERVICE_TOKEN=gw.token,
            GRIDBOT_STORAGE_URL=f"sqlite+aiosqlite:///{work}/gridbot.db",
            GRIDBOT_STORAGE_DATA_DIR=str(work / "data"),
            GRIDBOT_WEB_PORT="0",
            GRIDBOT_OUTBOX_PER_GROUP_INTERVAL_SECONDS="0",
            GRIDBOT_OUTBOX_PER_ACCOUNT_PER_MINUTE="1000000",
        ))


async def amain(args) -> int:
    print(f"machine: {machine()}")
    echo = await run_echo(args.messages)
    grid = await run_gridbot(args.messages)
    floor = await run_echo(args.messages, durable=True)
    rows = []
    for label, data in (("python-wechaty echo bot", echo), ("gridbot", grid),
                        ("echo + classify + one SQLite commit", floor)):
        rows.append((label, f"{percentile(data['gateway'], 50):.0f}", f"{percentile(data['gateway'], 90):.0f}",
                     f"{max(data['gateway']):.0f}", f"{percentile(data['seen'], 50):.0f}",
                     f"{percentile(data['seen'], 90):.0f}"))
    print(f"{args.messages} reports each, one at a time; ms")
    print(table(rows, ("", "p50 (gateway clock)", "p90", "max", "p50 (/say → seen in /sent)", "p90")))
    ok = True
    for q in (50, 90):
        ratio = percentile(grid["gateway"], q) / max(1.0, percentile(echo["gateway"], q))
        ok &= ratio <= TARGET_RATIO
        print(f"p{q}: gridbot / echo = {ratio:.2f}, target ≤ {TARGET_RATIO:g}: {verdict(ratio <= TARGET_RATIO)}"
              f" (echo + classify + commit / echo = {percentile(floor['gateway'], q) / max(1.0, percentile(echo['gateway'], q)):.2f})")
    return 1 if args.check and not ok else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    raise SystemExit(main())
