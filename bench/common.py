"""Shared helpers for the benchmarks: settings, a recording transport, message mixes, figures.

Nothing here imports from tests/: the benchmarks must run from an installed package.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import platform
import random
import re
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings, load_settings
from bot.events import IncomingMessage, Outgoing
from bot.transports.base import EventHandler, Transport

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"
RESIDENT_GROUPS = ("西园1号楼业主群", "西园3号楼业主群", "西园5号楼业主群")
STAFF_GROUP = "西园社区网格工作群"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


# -- settings -------------------------------------------------------------------------------------
def bench_settings(storage_url: str, data_dir: str | os.PathLike[str], **extra: str) -> Settings:
    """config.toml with the pacing switched off: the benchmark measures the bot, not WeChat's limits."""
    env = {
        "GRIDBOT_STORAGE_URL": storage_url,
        "GRIDBOT_STORAGE_DATA_DIR": str(data_dir),
        "GRIDBOT_OUTBOX_PER_GROUP_INTERVAL_SECONDS": "0",
        "GRIDBOT_OUTBOX_PER_ACCOUNT_PER_MINUTE": "1000000",
        "GRIDBOT_WEB_PORT": "0",
    }
    env.update(extra)
    return load_settings(CONFIG, env)


def pg_url_default() -> str:
    return os.environ.get("GRIDBOT_BENCH_PG_URL") or DEFAULT_PG_URL


@contextlib.asynccontextmanager
async def scratch_pg_database(url: str):
    """A fresh database next to the one in `url` (CREATE DATABASE … / DROP DATABASE …).

    A database of its own, rather than resetting `public`, so that a benchmark never wipes the
    tables of a test run that shares the server. Yields the URL of the new database, or raises
    OSError/the driver's error when the server is unreachable.
    """
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"gridbot_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncio.wait_for(asyncpg.connect(dsn), 5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# -- transport ------------------------------------------------------------------------------------
class RecordingTransport(Transport):
    """Always connected; counts what was sent and (keep=True) remembers it with its perf_counter time."""

    name = "bench"

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.sent: list[tuple[float, Outgoing]] = []
        self.count = 0
        self.on_event: EventHandler | None = None
        self._changed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.on_event is not None

    async def start(self, on_event: EventHandler) -> None:
        self.on_event = on_event

    async def stop(self) -> None:
        self.on_event = None

    async def send(self, message: Outgoing) -> None:
        self.count += 1
        if self.keep:
            self.sent.append((time.perf_counter(), message))
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 120.0) -> None:
        async def _wait() -> None:
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), timeout)


# -- messages -------------------------------------------------------------------------------------
# Chit-chat, thanks and notices: the classifier finds nothing to do (checked: none is actionable).
CHATTER = (
    "谢谢网格员，辛苦了！", "收到，谢谢", "好的", "大家早上好", "今天天气真不错", "哈哈哈", "谢谢小助手",
    "吃了吗", "👍👍👍", "周末有人一起打羽毛球吗", "好的好的，知道了", "孩子放学了没", "楼下的花开得真好看",
    "辛苦辛苦", "晚安各位邻居", "有人捡到一把钥匙吗，蓝色钥匙扣", "我家猫咪跑出去了又回来了哈哈",
    "感谢物业的师傅们", "今天菜市场的西红柿挺新鲜", "明天降温了，大家注意添衣服",
)
# Reports (requests, complaints, an inquiry): {b} building, {u} unit. Varying both keeps most of
# them separate tickets instead of 附议 on one ticket, as in a real week of a community.
REPORTS = (
    "{b}号楼{u}单元电梯坏了，麻烦尽快修一下", "{b}栋楼道灯不亮了，晚上上楼很黑",
    "{b}号楼{u}单元门口垃圾好几天没人清理，臭得很", "{b}号楼楼上装修噪音太大了，中午都不停",
    "{b}号楼{u}单元水管漏水了，楼道里全是水", "{b}栋门口的路灯坏了好几天了",
    "{b}号楼地下车库有人乱停车，堵住出口了", "{b}号楼{u}单元下水道堵了，麻烦派人疏通",
    "{b}号楼{u}单元门禁坏了，门关不上", "{b}号楼楼顶有漏雨的情况，请物业看看",
    "请问{b}号楼的居住证明在哪里办理？", "{b}号楼{u}单元有人在楼道里堆放杂物，堵住消防通道了",
    "{b}号楼{u}单元楼梯扶手松了，老人上下楼很危险", "{b}栋附近的井盖坏了，很危险",
    "{b}号楼电梯按钮失灵了",
)
RESIDENTS = ("王阿姨", "李大爷", "张先生", "刘女士", "陈小姐", "赵大妈", "孙师傅", "周阿姨", "吴先生", "郑奶奶")


def message_stream(*, seed: int = 7, report_share: float = 0.25, prefix: str = "m") -> Iterator[IncomingMessage]:
    """Endless resident-group messages, one report in four (3 chit-chat/thanks for each report).

    Reports are spread over the three resident groups, buildings 1–30 and units 1–6, and spoken
    by ten residents, so that most become tickets of their own and a few join one (附议).
    """
    rng = random.Random(seed)
    every = max(1, round(1 / report_share)) if report_share > 0 else 0
    run = uuid.uuid4().hex[:8]
    for i in itertools.count():
        group = RESIDENT_GROUPS[i % len(RESIDENT_GROUPS)]
        name = rng.choice(RESIDENTS)
        if every and i % every == every - 1:
            text = rng.choice(REPORTS).format(b=rng.randint(1, 30), u=rng.randint(1, 6))
        else:
            text = rng.choice(CHATTER)
        yield IncomingMessage(
            message_id=f"{prefix}-{run}-{i}",
            talker_id=f"wxid_{name}",
            talker_name=name,
            text=text,
            room_id=f"{group}@chatroom",
            room_topic=group,
        )


def message_mix(n: int, *, seed: int = 7, report_share: float = 0.25, prefix: str = "m") -> list[IncomingMessage]:
    """The first n of message_stream()."""
    return list(itertools.islice(message_stream(seed=seed, report_share=report_share, prefix=prefix), n))


def is_report(message: IncomingMessage) -> bool:
    return message.text not in CHATTER


# -- figures --------------------------------------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = max(0, min(len(data) - 1, round(q / 100 * len(data) + 0.5) - 1))
    return data[k]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def table(rows: list[tuple], header: tuple) -> str:
    """A small aligned text table: first column left, the others right."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for j, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def proc_status_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM of a process in MB (Linux /proc)."""
    out: dict[str, float] = {}
    text = Path(f"/proc/{pid}/status").read_text()
    for key in ("VmRSS", "VmHWM"):
        match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
        if match:
            out[key] = int(match.group(1)) / 1024
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chunks(items: list, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def quiet_logs() -> None:
    """Warnings only: the bench prints its own figures."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("jieba").setLevel(logging.WARNING)


@dataclass
class Timer:
    start: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
