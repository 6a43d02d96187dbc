"""A long in-process run at a steady rate: does memory grow, do tasks leak, does latency drift?

    python -m bench.soak [--minutes 30] [--rate 20] [--every 60] [--pg [URL]] [--check]

Not for CI (30 minutes by default; --minutes 2 for a quick look). One GridBot with a counting
transport on a fresh SQLite file (or a scratch PostgreSQL database with --pg), fed the same mix
as bench.pipeline (one report in four) at --rate messages/s. Every --every seconds it prints: the
messages fed and processed, replies/alerts sent, tickets, feeds still in flight, the process RSS,
the number of asyncio tasks that are the bot's (all tasks minus the benchmark's own), and the
p50/p99 handling latency of that interval.

Baseline, same run: RSS and the bot's task count at 10 % of the run, against the end of the
feeding. Targets (issue): RSS growth < 10 %; task count stable (end ≤ 10 % mark + 2).
--check exits 1 when missed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    RecordingTransport,
    bench_settings,
    is_report,
    machine,
    message_stream,
    percentile,
    pg_url_default,
    proc_status_mb,
    quiet_logs,
    scratch_pg_database,
    table,
    verdict,
)
from bench.pipeline import ticket_count, wait_drained

TARGET_GROWTH = 0.10
TASK_SLACK = 2


async def soak(url: str, args) -> int:
    from bot.app import GridBot
    from bot.nlp.classifier import Classifier

    data = Path(tempfile.mkdtemp(prefix="gridbot-soak-"))
    settings = bench_settings(url, data)
    classifier = await asyncio.to_thread(Classifier, settings.community_words())
    transport = RecordingTransport(keep=False)
    bot = GridBot(settings, transport=transport, classifier=classifier)
    await bot.start(web_server=False)
    ours: set[asyncio.Task] = {asyncio.current_task()}
    inflight: set[asyncio.Task] = set()
    took: list[float] = []
    counts = {"fed": 0, "done": 0, "reports": 0}
    duration = args.minutes * 60
    stream = message_stream(prefix="soak")

    def bot_tasks() -> int:
        return len(asyncio.all_tasks() - ours - inflight)

    async def one(message) -> None:
        t0 = time.perf_counter()
        await bot.dispatcher.feed(message)
        took.append(time.perf_counter() - t0)
        counts["done"] += 1

    async def feeder() -> None:
        t0 = time.perf_counter()
        i = 0
        while True:
            scheduled = t0 + i / args.rate
            if scheduled - t0 >= duration:
                return
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            message = next(stream)
            counts["fed"] += 1
            counts["reports"] += is_report(message)
            task = asyncio.create_task(one(message))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            i += 1

    rows = []
    header = ("min", "fed", "processed", "sent", "tickets", "in flight", "RSS MB", "bot tasks", "p50 ms", "p99 ms")

    async def sample(label: str) -> dict:
        window = took[:]
        took.clear()
        row = {"label": label, "fed": counts["fed"], "done": counts["done"], "sent": transport.count,
               "tickets": await ticket_count(bot), "inflight": len(inflight),
               "rss": proc_status_mb()["VmRSS"], "tasks": bot_tasks(),
               "p50": percentile(window, 50) * 1000 if window else float("nan"),
               "p99": percentile(window, 99) * 1000 if window else float("nan")}
        rows.append(row)
        print("  ".join(f"{h} {v}" for h, v in zip(header, (
            label, row["fed"], row["done"], row["sent"], row["tickets"], row["inflight"], f"{row['rss']:.0f}",
            row["tasks"], f"{row['p50']:.1f}", f"{row['p99']:.1f}"))), flush=True)
        return row

    print(f"soak: {args.minutes:g} min at {args.rate:g} msg/s on {url.split('://')[0]}, a line every {args.every:g} s",
          flush=True)
    start = time.perf_counter()
    feeding = asyncio.create_task(feeder())
    ours.add(feeding)
    mark10 = None
    next_line = args.every
    while not feeding.done():
        wake = min(next_line, 0.1 * duration if mark10 is None else next_line)
        await asyncio.wait({feeding}, timeout=max(0.0, wake - (time.perf_counter() - start)))
        elapsed = time.perf_counter() - start
        if mark10 is None and elapsed >= 0.1 * duration:
            mark10 = {"rss": proc_status_mb()["VmRSS"], "tasks": bot_tasks()}
        if elapsed >= next_line and not feeding.done():
            await sample(f"{elapsed / 60:.1f}")
            next_line += args.every
    end = await sample(f"{(time.perf_counter() - start) / 60:.1f} end of feeding")
    if mark10 is None:
        mark10 = {"rss": end["rss"], "tasks": end["tasks"]}
    behind = time.perf_counter()
    if inflight:
        await asyncio.wait(set(inflight))
    await wait_drained(bot, transport, timeout=600)
    caught_up = time.perf_counter() - behind
    drained = await sample("drained")
    await bot.stop()

    print()
    print(table([(r["label"], r["fed"], r["done"], r["sent"], r["tickets"], r["inflight"], f"{r['rss']:.0f}",
                  r["tasks"], f"{r['p50']:.1f}", f"{r['p99']:.1f}") for r in rows], header))
    growth = (end["rss"] - mark10["rss"]) / mark10["rss"]
    tasks_ok = end["tasks"] <= mark10["tasks"] + TASK_SLACK and drained["tasks"] <= mark10["tasks"] + TASK_SLACK
    print(f"{counts['fed']} messages ({counts['reports']} reports) in {args.minutes:g} min; "
          f"caught up {caught_up:.1f} s after the last feed")
    print(f"RSS at 10 %: {mark10['rss']:.0f} MB, at the end of feeding: {end['rss']:.0f} MB → "
          f"{growth * 100:+.1f} %, target < {TARGET_GROWTH * 100:.0f} %: {verdict(growth < TARGET_GROWTH)}")
    print(f"bot tasks at 10 %: {mark10['tasks']}, end of feeding: {end['tasks']}, drained: {drained['tasks']}; "
          f"stable (≤ +{TASK_SLACK}): {verdict(tasks_ok)}")
    ok = growth < TARGET_GROWTH and tasks_ok
    return 1 if args.check and not ok else 0


async def amain(args) -> int:
    print(f"machine: {machine()}")
    if args.pg:
        try:
            async with scratch_pg_database(args.pg) as url:
                return await soak(url, args)
        except OSError as exc:
            print(f"PostgreSQL unreachable at {args.pg}: {exc}")
            return 0
    with tempfile.TemporaryDirectory(prefix="gridbot-soak-") as tmp:
        return await soak(f"sqlite+aiosqlite:///{tmp}/soak.db", args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--every", type=float, default=60, help="seconds between lines")
    parser.add_argument("--pg", nargs="?", const=pg_url_default(), default=None,
                        help="PostgreSQL instead of SQLite (default URL: $GRIDBOT_BENCH_PG_URL or the test database)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    quiet_logs()
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
