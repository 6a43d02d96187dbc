"""The three rates: 响应率, 解决率, 满意率 from what happened to tickets."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from bot.app import GridBot
from bot.services import stats
from tests.bot.loop_helpers import resident_says, staff_says
from tests.conftest import FakeTransport, ROOT


@pytest.fixture
async def frozen_bot(settings, classifier, clock, reset_database):
    instance = GridBot(settings, transport=FakeTransport(), classifier=classifier, clock=clock)
    await instance.start(web_server=False)
    yield instance
    await instance.stop()


async def scenario(bot, clock) -> None:
    """Three normal tickets (take within 24 h, answer within 168 h)."""
    start = clock.now
    await resident_says(bot, "3号楼2单元电梯坏了，麻烦尽快修一下")                       # #1
    await resident_says(bot, "1号楼门口路灯不亮了，麻烦修一下", group="西园1号楼业主群")  # #2
    await resident_says(bot, "5号楼楼道灯坏了，请帮忙修一下", name="陈小姐", group="西园5号楼业主群")  # #3
    clock.advance(hours=2)
    await staff_says(bot, "接单 #1")                          # on time
    await staff_says(bot, "办结 #1 已修好")                    # on time
    await resident_says(bot, "满意")
    clock.now = start + timedelta(hours=30)
    await staff_says(bot, "接单 #2")                          # late
    await staff_says(bot, "办结 #2 已更换灯泡")                # within 168 h
    await resident_says(bot, "不满意，还是不亮", group="西园1号楼业主群")  # reopened
    clock.now = start + timedelta(hours=200)                 # #3 never touched: overdue


async def test_rates_follow_what_happened(frozen_bot, clock):
    bot = frozen_bot
    start = clock.now
    await scenario(bot, clock)
    async with bot.sessions() as session:
        report = await stats.build_report(session, start - timedelta(hours=1), clock.now, clock.now)
    assert report.created == 3
    assert (report.taken_in_time, report.due_for_taking) == (1, 3)
    # All three came due (#2's clock restarted when it was reopened at 30 h: due at 198 h);
    # only #1 was done in time.
    assert (report.resolved, report.due) == (1, 3)
    assert (report.satisfied, report.rated) == (1, 2)
    assert report.open_now == 2 and report.overdue_now == 2  # #2 (reopened) and #3
    assert report.by_category["repair"] == 3 and report.by_grid == {"g1": 2, "g2": 1}


def test_period_bounds_are_local_weeks_and_months(settings, clock):
    start, end = stats.period_bounds("week", clock.now, settings.community.tz)
    assert start.isoformat() == "2026-11-30T00:00:00+08:00" and end == clock.now
    start, end = stats.period_bounds("month", clock.now, settings.community.tz, previous=True)
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00")


async def test_report_command_prints_the_three_rates(bot, settings):  # real clock: the CLI reports "now"
    await resident_says(bot, "3号楼2单元电梯坏了，麻烦尽快修一下")
    await staff_says(bot, "办结 #1 已修好")
    await resident_says(bot, "满意")
    env = dict(os.environ, GRIDBOT_STORAGE_URL=settings.storage.url, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "bot", "report", "--period", "month"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "响应率" in result.stdout and "解决率" in result.stdout and "满意率：100.0%（满意 1/1）" in result.stdout
