"""Wiring and lifecycle: expensive things start here once and stop here cleanly."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from pathlib import Path

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.broadcasts import service as broadcast_service
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.events import utcnow
from bot.handlers import ROUTERS
from bot.nlp.classifier import Classifier
from bot.jobs.clocks import check_clocks
from bot.outbox import OutboxSender
from bot.scheduler import Job, Scheduler
from bot.services import retention
from bot.spool import Spool, is_database_down
from bot.transports.base import Transport
from bot.transports.sandbox import SandboxTransport
from bot.web.app import create_web_app
from bot.web.keys import ConsoleDeps
from bot.web.security import load_secret_key
from bot.webhooks import WebhookClient
from storage import db, directory, sqlite_checkpoint
from storage import outbox as outbox_repo

log = logging.getLogger(__name__)


def make_transport(settings: Settings) -> Transport:
    if settings.transport.kind == "wechaty":
        from bot.transports.wechaty import WechatyTransport  # only this path imports wechaty

        return WechatyTransport(settings)
    return SandboxTransport(settings)


class GridBot:
    """One running bot: database, classifier, transport, dispatcher, outbox sender, web server."""

    def __init__(self, settings: Settings, *, transport: Transport | None = None,
                 classifier: Classifier | None = None, clock=utcnow):
        self.settings = settings
        self.clock = clock
        self.transport = transport or make_transport(settings)
        self.classifier = classifier
        self.engine = None
        self.sessions = None
        self.dispatcher: Dispatcher | None = None
        self.sender: OutboxSender | None = None
        self._runner: web.AppRunner | None = None
        self.web_port: int | None = None
        self.scheduler: Scheduler | None = None
        self.webhook_client: WebhookClient | None = None
        self.checkpointer: sqlite_checkpoint.WalCheckpointer | None = None  # SQLite files only

    async def start(self, *, migrate: bool = True, web_server: bool = True) -> None:
        settings = self.settings
        if migrate:
            await db.upgrade(settings.storage.url)
        if db.is_sqlite_file(settings.storage.url):
            self.checkpointer = sqlite_checkpoint.WalCheckpointer(settings.storage.url)
            self.checkpointer.start()
        self.engine = db.create_engine(settings.storage.url, background_checkpoints=self.checkpointer is not None)
        self.sessions = db.session_factory(self.engine)
        async with self.sessions.begin() as session:
            await directory.sync_config(session, settings)
            # One process per account: whatever it had claimed before a crash is owed again now.
            await outbox_repo.release_stale_claims(session, settings.transport.account, self.clock())
        if self.classifier is None:
            # Loading the jieba dictionary takes about a second: keep it off the event loop.
            self.classifier = await asyncio.to_thread(Classifier, settings.community_words())
        self.webhook_client = WebhookClient()
        await self.webhook_client.start()
        self.sender = OutboxSender(self.sessions, self.transport, settings.outbox,
                                   webhooks={w.name: w for w in settings.webhooks},
                                   webhook_client=self.webhook_client, clock=self.clock,
                                   account=settings.transport.account)
        self.dispatcher = Dispatcher(sessions=self.sessions, settings=settings, classifier=self.classifier,
                                     routers=ROUTERS, sender=self.sender, clock=self.clock,
                                     spool=Spool(Path(settings.storage.data_dir) / "inbox-spool.jsonl"))
        recovered = await self.dispatcher.recover()
        if recovered:
            log.info("processed %d messages left over from the last run", recovered)
        self.sender.start()
        self.scheduler = self._make_scheduler()
        self.scheduler.start()
        await self.transport.start(self.dispatcher.feed)
        if web_server:
            await self._start_web()

    def _make_scheduler(self) -> Scheduler:
        settings = self.settings
        scheduler = Scheduler(settings.community.tz, clock=self.clock)

        async def sla_clocks(now):
            if await check_clocks(self.sessions, settings, now):
                self.sender.wake()

        async def broadcasts(now):
            if await broadcast_service.sweep(self.sessions, settings, now):
                self.sender.wake()

        async def recover_inbox(now):
            # Messages stored but left unprocessed by a database hiccup mid-run.
            await self.dispatcher.recover(min_age_seconds=60)

        async def trim_data(now):
            async with self.sessions.begin() as session:
                await retention.trim(session, settings, now)

        scheduler.add(Job("sla-clocks", sla_clocks, every=settings.sla.check_seconds))
        scheduler.add(Job("inbox-recovery", recover_inbox, every=60))
        scheduler.add(Job("retention-trim", trim_data, every=3600))
        scheduler.add(Job("broadcasts", broadcasts, every=settings.broadcast.check_seconds))
        return scheduler

    async def _start_web(self) -> None:
        sandbox = self.transport if isinstance(self.transport, SandboxTransport) and self.settings.sandbox.enabled else None
        console = ConsoleDeps(settings=self.settings, sessions=self.sessions,
                              secret_key=load_secret_key(self.settings.storage.data_dir),
                              wake=self.sender.wake, clock=self.clock,
                              connected=lambda: self.transport.connected)
        app = create_web_app(community=self.settings.community.name, health=self.health, sandbox_transport=sandbox,
                             console=console)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.web.host, self.settings.web.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # the real port when port = 0
        self.web_port = sockets[0].getsockname()[1] if sockets else self.settings.web.port

    @property
    def base_url(self) -> str:
        host = self.settings.web.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        return f"http://{shown}:{self.web_port}"

    async def health(self) -> dict:
        report = {"transport": self.transport.name, "connected": self.transport.connected}
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
                report["outbox_depth"] = await outbox_repo.depth(session, self.settings.transport.account)
            report["database"] = True
        except Exception as exc:  # report, don't raise: this is what /healthz is for
            report["database"] = False
            report["error"] = type(exc).__name__
        report["ok"] = bool(report["database"] and report["connected"])
        return report

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.transport.stop()
        if self.dispatcher is not None:
            await self.dispatcher.close()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.sender is not None:
            await self.sender.stop()
        if self.webhook_client is not None:
            await self.webhook_client.close()
            self.webhook_client = None
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None
        if self.checkpointer is not None:
            await self.checkpointer.stop()
            self.checkpointer = None


async def wait_for_database(url: str, stop: asyncio.Event) -> bool:
    """Migrate, retrying while the database is unreachable; False when asked to stop meanwhile."""
    delay = 1.0
    while not stop.is_set():
        try:
            await db.upgrade(url)
            return True
        except Exception as exc:
            if not is_database_down(exc):
                raise
            log.error("数据库连接不上 / database unreachable (%s): %s: %s — retrying in %.0f s",
                      make_url(url).render_as_string(hide_password=True), type(exc).__name__, exc, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except asyncio.TimeoutError:
            pass
        delay = min(30.0, delay * 2)
    return False


def freeze_startup_objects() -> None:
    """Move what start-up built (jieba's dictionary, SQLAlchemy's mappers …) out of the garbage
    collector's sight: it lives as long as the process, and each full collection would walk it
    again, pausing every handler for tens of milliseconds."""
    gc.collect()
    gc.freeze()


async def run_forever(settings: Settings) -> None:
    """`gridbot run`: start, print where the sandbox is, stop cleanly on SIGTERM/SIGINT."""
    bot = GridBot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not await wait_for_database(settings.storage.url, stop):
        return
    await bot.start(migrate=False)
    try:
        if isinstance(bot.transport, SandboxTransport) and settings.sandbox.enabled:
            print(f"gridbot 已启动。模拟群聊（sandbox）：{bot.base_url}/sandbox", flush=True)
            print(f"工作台（console）：{bot.base_url}/login", flush=True)
        else:
            print(f"gridbot 已启动（{settings.transport.kind}）。健康检查：{bot.base_url}/healthz", flush=True)
        freeze_startup_objects()
        await stop.wait()
    finally:
        log.info("stopping")
        await bot.stop()
