"""Messages through the whole pipeline — dispatcher, storage, outbox — on SQLite and PostgreSQL.

    python -m bench.pipeline [--messages 2000] [--chunk 50] [--rate 100] [--seconds 10] [--repeat 3]
                             [--pg URL | --no-pg] [--check]

One resident message in four is a report (a ticket, a reply in the group and an alert in the
staff group); the others are chit-chat and thanks, spread over the three resident groups.

Two modes, each on a fresh database:
- throughput: feed --messages concurrently, --chunk at a time (asyncio.gather), and stop the clock
  when every message is processed AND every owed reply/alert has reached the transport;
- latency: feed at a fixed --rate for --seconds; per message, the time from the feed() call to
  its return (stored, handled, committed). The lag of the feed() call behind its schedule is
  printed too (it shows an event loop that cannot keep up).

Each mode runs --repeat times on a fresh database; the median run is reported (and every run
listed), since a single run on a shared 2-core machine swings by ±20 %.

Baselines in the same run, same engine settings, same concurrency: the bare INSERT + COMMIT of
the inbox row alone (the floor storage imposes; the pipeline commits once per batch of messages,
which it stores and processes in one transaction, plus once per wave of sends to mark them sent)
and the classifier alone.

Targets (issue): ≥ 1,000 messages/s; p99 ≤ 20 ms at 100 messages/s. --check exits 1 when missed.
PostgreSQL: --pg URL (default $GRIDBOT_BENCH_PG_URL or postgresql+asyncpg://postgres@127.0.0.1:5432/test);
a scratch database is created next to it and dropped afterwards. Unreachable → skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from bench.common import (
    RecordingTransport,
    bench_settings,
    chunks,
    is_report,
    machine,
    message_mix,
    percentile,
    pg_url_default,
    quiet_logs,
    scratch_pg_database,
    table,
    verdict,
)

TARGET_RATE = 1000.0  # messages/s
TARGET_P99_MS = 20.0  # at 100 messages/s


async def start_bot(url: str, data_dir: Path, classifier):
    from bot.app import GridBot, freeze_startup_objects

    transport = RecordingTransport()
    bot = GridBot(bench_settings(url, data_dir), transport=transport, classifier=classifier)
    await bot.start(web_server=False)
    freeze_startup_objects()  # as `gridbot run` does
    return bot, transport


async def outbox_counts(bot) -> tuple[int, int]:
    """(rows ever queued, rows still owed)."""
    from storage.models import OutboxMessage

    async with bot.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(OutboxMessage))
        owed = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.status.in_(("pending", "sending"))))
    return int(total or 0), int(owed or 0)


async def ticket_count(bot) -> int:
    from storage.models import Ticket

    async with bot.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)


async def wait_drained(bot, transport: RecordingTransport, timeout: float = 300) -> int:
    """Until the outbox owes nothing and the transport got every row; returns rows sent."""
    deadline = time.monotonic() + timeout
    while True:
        total, owed = await outbox_counts(bot)
        if owed == 0 and transport.count >= total:
            return total
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox not drained: {owed} owed, {transport.count}/{total} sent")
        if transport.count < total - owed:
            await asyncio.sleep(0.001)  # claimed, being handed over
        else:
            try:  # wake on the next send, or look again shortly
                await transport.wait_for(transport.count + 1, timeout=0.02)
            except asyncio.TimeoutError:
                pass


async def warm_up(bot, transport: RecordingTransport) -> tuple[int, int]:
    """First-use costs (statement compilation, jieba's caches) out of the figures: a steady state is measured.
    Returns (replies/alerts sent, tickets opened) by the warm-up."""
    for m in message_mix(20, prefix="warm", seed=1):
        await bot.dispatcher.feed(m)
    return await wait_drained(bot, transport), await ticket_count(bot)


async def throughput(url: str, data_dir: Path, classifier, n: int, chunk: int) -> dict:
    bot, transport = await start_bot(url, data_dir, classifier)
    try:
        messages = message_mix(n, prefix="tp")
        feed = bot.dispatcher.feed
        warm_sent, warm_tickets = await warm_up(bot, transport)
        t0 = time.perf_counter()
        for part in chunks(messages, chunk):
            await asyncio.gather(*(feed(m) for m in part))
        fed = time.perf_counter() - t0
        sent = await wait_drained(bot, transport)
        total = time.perf_counter() - t0
        return {"n": n, "fed_s": fed, "total_s": total, "sent": sent - warm_sent,
                "tickets": await ticket_count(bot) - warm_tickets,
                "reports": sum(is_report(m) for m in messages)}
    finally:
        await bot.stop()


async def latency(url: str, data_dir: Path, classifier, rate: float, seconds: float) -> dict:
    bot, transport = await start_bot(url, data_dir, classifier)
    try:
        feed = bot.dispatcher.feed
        await warm_up(bot, transport)
        messages = message_mix(int(rate * seconds), prefix="lat")
        took: dict[str, list[float]] = collections.defaultdict(list)
        lag: list[float] = []

        async def one(message, scheduled: float) -> None:
            called = time.perf_counter()
            await feed(message)
            done = time.perf_counter()
            took["report" if is_report(message) else "chatter"].append(done - called)
            lag.append(called - scheduled)

        tasks = []
        t0 = time.perf_counter() + 0.01
        for i, message in enumerate(messages):
            scheduled = t0 + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(message, scheduled)))
        await asyncio.gather(*tasks)
        fed = time.perf_counter() - t0
        await wait_drained(bot, transport)
        drained = time.perf_counter() - t0
        everything = took["report"] + took["chatter"]
        return {"n": len(messages), "fed_s": fed, "drained_s": drained,
                "p50": percentile(everything, 50), "p99": percentile(everything, 99),
                "max": max(everything),
                "report_p50": percentile(took["report"], 50), "report_p99": percentile(took["report"], 99),
                "chatter_p50": percentile(took["chatter"], 50), "chatter_p99": percentile(took["chatter"], 99),
                "lag_p99": percentile(lag, 99)}
    finally:
        await bot.stop()


async def bare_inserts(url: str, n: int, chunk: int) -> tuple[float, float]:
    """The inbox INSERT + COMMIT alone, same engine settings: seconds for n one at a time, and for n
    in the pipeline's concurrency (chunk at a time)."""
    from storage import db, inbox

    await db.upgrade(url)
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    now = datetime.now(timezone.utc)

    async def store(message) -> None:
        async with sessions.begin() as session:
            await inbox.store(session, message, now)

    try:
        await store(message_mix(1, prefix="warm")[0])
        timings = []
        for size, prefix in ((1, "seq"), (chunk, "burst")):
            messages = message_mix(n, prefix=prefix)
            t0 = time.perf_counter()
            for part in chunks(messages, size):
                await asyncio.gather(*(store(m) for m in part))
            timings.append(time.perf_counter() - t0)
        return timings[0], timings[1]
    finally:
        await engine.dispose()


def classifier_alone(classifier, n: int) -> float:
    messages = message_mix(n, prefix="cls")
    t0 = time.perf_counter()
    for m in messages:
        classifier.classify(m.text)
    return time.perf_counter() - t0


async def bench_backend(label: str, make_url, classifier, args) -> dict:
    """make_url(tag) is an async context manager yielding a fresh, empty database URL."""
    out: dict = {"label": label}
    async with make_url("bare") as url:
        out["bare_seq_s"], out["bare_burst_s"] = await bare_inserts(url, args.messages, args.chunk)
    out["tp_runs"], out["lat_runs"] = [], []
    for run in range(args.repeat):
        async with make_url(f"tp{run}") as url:
            out["tp_runs"].append(await throughput(url, Path(tempfile.mkdtemp(prefix="gridbot-bench-")), classifier,
                                                   args.messages, args.chunk))
        async with make_url(f"lat{run}") as url:
            out["lat_runs"].append(await latency(url, Path(tempfile.mkdtemp(prefix="gridbot-bench-")), classifier,
                                                 args.rate, args.seconds))
    out["tp"] = median_run(out["tp_runs"], lambda r: r["n"] / r["total_s"])
    out["lat"] = median_run(out["lat_runs"], lambda r: r["p99"])
    return out


def median_run(runs: list[dict], key) -> dict:
    return sorted(runs, key=key)[len(runs) // 2]


def sqlite_factory(tmp: Path):
    import contextlib

    @contextlib.asynccontextmanager
    async def make(tag: str):
        yield f"sqlite+aiosqlite:///{tmp}/{tag}.db"

    return make


def pg_factory(base_url: str):
    def make(tag: str):
        return scratch_pg_database(base_url)

    return make


async def pg_reachable(url: str) -> str | None:
    """None when a scratch database can be made there, else why not."""
    try:
        async with scratch_pg_database(url):
            return None
    except Exception as exc:  # noqa: BLE001 - unreachable, refused, no CREATEDB …: all mean skip
        return f"{type(exc).__name__}: {exc}"


def report(results: list[dict], classify_s: float, args) -> bool:
    n = args.messages
    rows = []
    ok = True
    for r in results:
        tp, lat = r["tp"], r["lat"]
        rate = tp["n"] / tp["total_s"]
        floor = n / min(r["bare_seq_s"], r["bare_burst_s"])
        ok &= rate >= TARGET_RATE and lat["p99"] * 1000 <= TARGET_P99_MS
        rows.append((
            r["label"], f"{rate:,.0f}", f"{tp['n'] / tp['fed_s']:,.0f}", f"{n / r['bare_seq_s']:,.0f}",
            f"{n / r['bare_burst_s']:,.0f}", f"{rate / floor:.2f}",
            f"{lat['p50'] * 1000:.1f}", f"{lat['p99'] * 1000:.1f}", f"{lat['max'] * 1000:.0f}",
            f"{lat['lag_p99'] * 1000:.1f}",
        ))
    print(table(rows, ("storage", "pipeline msg/s", "processed msg/s", "bare INSERT 1-by-1",
                       f"bare INSERT ×{args.chunk}", "ratio", "p50 ms", "p99 ms", "max ms", "feed lag p99 ms")))
    print("(pipeline msg/s: until every reply/alert reached the transport; processed: until every feed() returned;"
          " bare INSERT: the inbox row's INSERT + COMMIT alone, one at a time and in the pipeline's bursts, msg/s;"
          " ratio: pipeline / the faster bare INSERT)")
    print()
    for r in results:
        tp, lat = r["tp"], r["lat"]
        rate = tp["n"] / tp["total_s"]
        print(f"{r['label']}: throughput {tp['n']} messages ({tp['reports']} reports → {tp['tickets']} tickets, "
              f"{tp['sent']} replies/alerts sent) in {tp['total_s']:.2f} s "
              f"(all processed after {tp['fed_s']:.2f} s) — {rate:,.0f} msg/s, target ≥ {TARGET_RATE:,.0f}: "
              f"{verdict(rate >= TARGET_RATE)}")
        print(f"{r['label']}: latency at {args.rate:g} msg/s for {args.seconds:g} s ({lat['n']} messages): "
              f"p50 {lat['p50'] * 1000:.1f} ms, p99 {lat['p99'] * 1000:.1f} ms "
              f"(reports p50 {lat['report_p50'] * 1000:.1f} / p99 {lat['report_p99'] * 1000:.1f} ms, "
              f"chit-chat p50 {lat['chatter_p50'] * 1000:.1f} / p99 {lat['chatter_p99'] * 1000:.1f} ms), "
              f"target p99 ≤ {TARGET_P99_MS:g} ms: {verdict(lat['p99'] * 1000 <= TARGET_P99_MS)}; "
              f"outbox drained {lat['drained_s'] - lat['fed_s']:.2f} s after the last feed")
    for r in results:
        print(f"{r['label']}, every run: throughput "
              + " / ".join(f"{t['n'] / t['total_s']:,.0f}" for t in r["tp_runs"]) + " msg/s; p99 at "
              + f"{args.rate:g} msg/s " + " / ".join(f"{x['p99'] * 1000:.1f}" for x in r["lat_runs"]) + " ms")
    print(f"classifier alone: {n / classify_s:,.0f} msg/s ({classify_s * 1000 / n:.2f} ms a message); "
          + ", ".join(f"{r['label']} pipeline/classifier = {(r['tp']['n'] / r['tp']['total_s']) / (n / classify_s):.3f}"
                      for r in results))
    return ok


async def amain(args) -> int:
    from bot.nlp.classifier import Classifier

    print(f"machine: {machine()}")
    print(f"messages: {args.messages} (one report in four), chunks of {args.chunk}; "
          f"latency at {args.rate:g} msg/s for {args.seconds:g} s; each {args.repeat} times, the median run shown")
    settings = bench_settings("sqlite+aiosqlite:///:memory:", tempfile.gettempdir())
    classifier = await asyncio.to_thread(Classifier, settings.community_words())
    classifier.classify("预热")
    classify_s = classifier_alone(classifier, args.messages)

    results = []
    with tempfile.TemporaryDirectory(prefix="gridbot-bench-") as tmp:
        results.append(await bench_backend("SQLite", sqlite_factory(Path(tmp)), classifier, args))
    if not args.no_pg:
        why = await pg_reachable(args.pg)
        if why is None:
            results.append(await bench_backend("PostgreSQL", pg_factory(args.pg), classifier, args))
        else:
            print(f"PostgreSQL skipped: {args.pg} is not usable ({why})")
    print()
    ok = report(results, classify_s, args)
    return 1 if args.check and not ok else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode; the median is reported")
    parser.add_argument("--pg", default=pg_url_default())
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    quiet_logs()
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
