"""/metrics in the Prometheus text format (prometheus-client).

Everything is read from the database at each scrape, so it counts what every process did.
Old inbox and outbox rows are deleted by retention, so the counters are not row counts: each
scrape adds the rows that arrived (received_at) or were delivered (sent_at) since the previous
scrape, starting when this web server started. Like any Prometheus counter they start again
from zero after a restart, and rate()/increase() handle that.

- gridbot_messages_received_total           messages stored in the inbox
- gridbot_inbox_messages{status}           inbox rows by state (received, processed, failed)
- gridbot_tickets{state}                    tickets by status
- gridbot_tickets_overdue                   open tickets past their due time
- gridbot_alerts_sent_total{channel}        staff alerts, reminders and escalations delivered
- gridbot_broadcasts_sent_total             broadcast messages delivered to groups
- gridbot_messages_sent_total{channel}      everything delivered
- gridbot_send_failures_total{channel}      failed delivery attempts (each retry counts)
- gridbot_outbox_messages{status}           outbox rows by state
- gridbot_outbox_depth                      messages waiting to be sent (pending + sending)
- gridbot_transport_connected               1 while the chat transport is connected
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import case, func, or_, select

from bot.web.keys import CONSOLE_KEY, ConsoleDeps
from storage.models import InboxMessage, OutboxMessage, Ticket

TICKET_STATES = ("open", "in_progress", "resolved", "closed", "cancelled")
OUTBOX_STATES = ("pending", "sending", "sent", "failed")
INBOX_STATES = ("received", "processed", "failed")

# Outbox keys of what staff are alerted with (bot.services.intake, bot.jobs.clocks).
_ALERT = or_(OutboxMessage.dedupe_key.like("ticket:%:alert%"), OutboxMessage.dedupe_key.like("event:%:alert%"),
             OutboxMessage.dedupe_key.like("ticket:%:reminder:%"),
             OutboxMessage.dedupe_key.like("ticket:%:escalated:%"))
_BROADCAST = OutboxMessage.dedupe_key.like("broadcast:%")


def _channel(name: str) -> str:
    return "chat" if name == "chat" else "webhook"


class _Snapshot:
    """One scrape's numbers, handed to prometheus-client as a collector."""

    def __init__(self, numbers: dict):
        self.numbers = numbers

    def collect(self):
        n = self.numbers
        received = CounterMetricFamily("gridbot_messages_received", "Messages received and stored in the inbox.")
        received.add_metric([], n["inbox_total"])
        yield received
        inbox = GaugeMetricFamily("gridbot_inbox_messages", "Inbox messages by state.", labels=["status"])
        for state in INBOX_STATES:
            inbox.add_metric([state], n["inbox"].get(state, 0))
        yield inbox
        tickets = GaugeMetricFamily("gridbot_tickets", "Tickets by state.", labels=["state"])
        for state in TICKET_STATES:
            tickets.add_metric([state], n["tickets"].get(state, 0))
        yield tickets
        overdue = GaugeMetricFamily("gridbot_tickets_overdue", "Open tickets past their due time.")
        overdue.add_metric([], n["overdue"])
        yield overdue
        for name, key, doc in (
            ("gridbot_alerts_sent", "alerts", "Staff alerts, reminders and escalations delivered."),
            ("gridbot_messages_sent", "sent", "Messages delivered (chat and webhooks)."),
            ("gridbot_send_failures", "failures", "Failed delivery attempts; every retry counts."),
        ):
            family = CounterMetricFamily(name, doc, labels=["channel"])
            for channel in ("chat", "webhook"):
                family.add_metric([channel], n[key].get(channel, 0))
            yield family
        broadcasts = CounterMetricFamily("gridbot_broadcasts_sent", "Broadcast messages delivered to groups.")
        broadcasts.add_metric([], n["broadcasts"])
        yield broadcasts
        outbox = GaugeMetricFamily("gridbot_outbox_messages", "Outbox rows by state.", labels=["status"])
        for state in OUTBOX_STATES:
            outbox.add_metric([state], n["outbox"].get(state, 0))
        yield outbox
        depth = GaugeMetricFamily("gridbot_outbox_depth", "Messages waiting to be sent (pending and sending).")
        depth.add_metric([], n["outbox"].get("pending", 0) + n["outbox"].get("sending", 0))
        yield depth
        connected = GaugeMetricFamily("gridbot_transport_connected", "1 while the chat transport is connected.")
        connected.add_metric([], 1 if n["connected"] else 0)
        yield connected


class MetricsState:
    """The running totals behind the counters, moved forward by each scrape."""

    def __init__(self, since: datetime, lag_seconds: float = 1.0):
        self.since = since
        self.watermark = since  # rows stamped up to here are counted
        self.lag = timedelta(seconds=lag_seconds)  # let transactions stamped just now commit first
        self.totals: Counter = Counter()
        self.failure_sums: dict[str, int] = {}
        self.lock = asyncio.Lock()


async def gather(console: ConsoleDeps, state: MetricsState) -> dict:
    now = console.clock()
    numbers: dict = {"connected": console.connected()}
    async with state.lock, console.sessions() as session:
        numbers["inbox"] = dict((await session.execute(
            select(InboxMessage.status, func.count()).group_by(InboxMessage.status))).all())
        numbers["tickets"] = dict((await session.execute(
            select(Ticket.status, func.count()).group_by(Ticket.status))).all())
        numbers["overdue"] = int(await session.scalar(
            select(func.count()).select_from(Ticket)
            .where(Ticket.status.in_(("open", "in_progress")), Ticket.due_at <= now)) or 0)
        numbers["outbox"] = dict((await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all())
        upto = now - state.lag
        if upto > state.watermark:
            state.totals["received"] += int(await session.scalar(
                select(func.count()).select_from(InboxMessage)
                .where(InboxMessage.received_at > state.watermark, InboxMessage.received_at <= upto)) or 0)
            delivered = (OutboxMessage.sent_at > state.watermark) & (OutboxMessage.sent_at <= upto)
            rows = (await session.execute(
                select(OutboxMessage.channel, func.count(),
                       func.sum(case((_ALERT, 1), else_=0)), func.sum(case((_BROADCAST, 1), else_=0)))
                .where(OutboxMessage.status == "sent", delivered).group_by(OutboxMessage.channel))).all()
            for channel, sent_n, alerts_n, broadcasts_n in rows:
                kind = _channel(channel)
                state.totals[f"sent:{kind}"] += int(sent_n or 0)
                state.totals[f"alerts:{kind}"] += int(alerts_n or 0)
                state.totals["broadcasts"] += int(broadcasts_n or 0)
            state.watermark = upto
        # Failed attempts have no time of their own: a row's attempts minus its one successful (or
        # current) attempt, over the rows made since start; what retention deletes is not taken back.
        failures = func.sum(OutboxMessage.attempts - case(
            (OutboxMessage.status.in_(("sent", "sending")), 1), else_=0))
        sums = dict((await session.execute(
            select(OutboxMessage.channel, failures).where(OutboxMessage.created_at >= state.since)
            .group_by(OutboxMessage.channel))).all())
        for channel, value in sums.items():
            value = max(0, int(value or 0))
            grew = value - state.failure_sums.get(channel, 0)
            if grew > 0:
                state.totals[f"failures:{_channel(channel)}"] += grew
            state.failure_sums[channel] = value
    totals = state.totals
    numbers["inbox_total"] = totals["received"]
    numbers["broadcasts"] = totals["broadcasts"]
    for key in ("sent", "alerts", "failures"):
        numbers[key] = {kind: totals[f"{key}:{kind}"] for kind in ("chat", "webhook")}
    return numbers


async def metrics(request: web.Request) -> web.Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await gather(request.app[CONSOLE_KEY], request.app[METRICS_STATE_KEY])))
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


METRICS_STATE_KEY = web.AppKey("metrics_state", MetricsState)


def setup(app: web.Application, console: ConsoleDeps) -> None:
    app[METRICS_STATE_KEY] = MetricsState(console.clock(), lag_seconds=console.metrics_lag_seconds)
    app.router.add_get("/metrics", metrics)
