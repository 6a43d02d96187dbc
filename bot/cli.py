"""The `gridbot` command: run, check-config, db upgrade, classify, report, staff."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from bot.config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def _settings(path: str | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"配置有误 / invalid configuration in {path or '(defaults)'}:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    print(f"配置正确：{settings.community.name}，{len(settings.groups)} 个群，{len(settings.staff)} 位工作人员，"
          f"transport = {settings.transport.kind}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from bot.app import run_forever

    asyncio.run(run_forever(settings))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from storage.db import upgrade_sync

    upgrade_sync(settings.storage.url, args.revision)
    print(f"数据库已升级到 {args.revision}")
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from storage.db import downgrade_sync

    downgrade_sync(settings.storage.url, args.revision)
    print(f"数据库已回退到 {args.revision}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    words: list[str] = []
    if args.config:
        words = _settings(args.config).community_words()
    from bot.nlp.batch import classify_lines
    from bot.nlp.classifier import Classifier

    classifier = Classifier(words)
    stream = open(args.input, encoding="utf-8", errors="replace") if args.input != "-" else sys.stdin
    with stream:
        out = sys.stdout
        for result in classify_lines(classifier, stream):
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from bot.events import utcnow
    from bot.services import stats
    from storage.db import create_engine, session_factory, upgrade

    async def _report() -> str:
        await upgrade(settings.storage.url)  # a fresh install reports zeros, not an error
        engine = create_engine(settings.storage.url)
        try:
            async with session_factory(engine)() as session:
                now = utcnow()
                start, end = stats.period_bounds(args.period, now, settings.community.tz, previous=args.previous)
                report = await stats.build_report(session, start, end, now)
        finally:
            await engine.dispose()
        title = ("上" if args.previous else "本") + {"week": "周", "month": "月"}[args.period] + "工作报告"
        return stats.render(report, settings, title)

    print(asyncio.run(_report()))
    return 0


def cmd_broadcast(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from bot.broadcasts import content as content_files
    from bot.broadcasts import service
    from bot.events import utcnow

    now = utcnow()
    tz = settings.community.tz
    names = [s.name for s in settings.broadcasts]
    if args.broadcast_command == "list":
        for view in service.list_schedules(settings, now):
            when = view.next_run.astimezone(tz).strftime("%Y-%m-%d %H:%M") if view.next_run else "—"
            state = "" if view.enabled else "（已停用）"
            print(f"{view.name}{state}｜{view.title}｜cron {view.cron}｜{view.season}｜下次：{when}｜"
                  f"{len(view.groups)} 个群")
        return 0
    if args.name not in names:
        print(f"没有名为 {args.name!r} 的广播计划（有：{', '.join(names)}）", file=sys.stderr)
        return EXIT_CONFIG
    schedule = next(s for s in settings.broadcasts if s.name == args.name)
    if args.broadcast_command == "preview":
        content = content_files.load(schedule.content)
        for tip in content.tips[: args.count]:
            print(f"[{tip.id}] {content_files.render(content, tip, settings, now)}")
        return 0

    from storage.db import create_engine, session_factory, upgrade

    async def _send() -> int:
        await upgrade(settings.storage.url)
        engine = create_engine(settings.storage.url)
        try:
            return await service.send_now(session_factory(engine), settings, args.name, now)
        finally:
            await engine.dispose()

    queued = asyncio.run(_send())
    print(f"已排队 {queued} 条，运行中的 gridbot 会按节奏发出（夜间免打扰时段会等到早上）。")
    return 0


def _read_password() -> str:
    """From the terminal (asked twice, not echoed) or the first line of standard input."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("新密码：")
        if getpass.getpass("再输入一次：") != first:
            raise ValueError("两次输入的密码不一样。")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _staff_command(settings: Settings, name: str, action) -> object:
    """Run `action(session, person, now)` for the configured staff member `name` in one transaction."""
    from bot.events import utcnow
    from bot.services import accounts
    from storage import directory
    from storage.db import create_engine, session_factory, upgrade

    async def _run():
        await upgrade(settings.storage.url)
        engine = create_engine(settings.storage.url)
        try:
            async with session_factory(engine).begin() as session:
                await directory.sync_config(session, settings)
                person = await accounts.staff_member(session, settings, name)
                return await action(session, person, utcnow())
        finally:
            await engine.dispose()

    return asyncio.run(_run())


def cmd_staff_set_password(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from bot.services import accounts

    try:
        password = _read_password()
        accounts.check_password_rules(password)
        _staff_command(settings, args.name,
                       lambda session, person, now: accounts.set_password(session, person, password, now))
    except (ValueError, accounts.AccountError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"已设置{args.name}的工作台密码；之前登录的网页需要重新登录。")
    return 0


def cmd_staff_api_token(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from bot.services import accounts

    try:
        token = _staff_command(settings, args.name, accounts.issue_api_token)
    except accounts.AccountError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"{args.name}的 API 令牌（只显示这一次，旧令牌已作废）：", file=sys.stderr)
    print(token)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    from bot.events import utcnow
    from bot.services import retention
    from storage.db import create_engine, session_factory, upgrade

    async def _purge():
        await upgrade(settings.storage.url)
        engine = create_engine(settings.storage.url)
        try:
            async with session_factory(engine).begin() as session:
                return await retention.purge(session, settings, utcnow(), dry_run=args.dry_run)
        finally:
            await engine.dispose()

    report = asyncio.run(_purge())
    print(("（试运行，未改动）" if args.dry_run else "") + str(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridbot", description="社区网格助手 gridbot")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the bot")
    run.add_argument("--config", default="config.toml")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a config file (exit 2 when invalid)")
    check.add_argument("--config", default="config.toml")
    check.set_defaults(func=cmd_check_config)

    database = sub.add_parser("db", help="database migrations")
    db_sub = database.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade")
    up.add_argument("--config", default="config.toml")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    down = db_sub.add_parser("downgrade")
    down.add_argument("--config", default="config.toml")
    down.add_argument("revision")
    down.set_defaults(func=cmd_db_downgrade)

    classify = sub.add_parser("classify", help="classify messages: one per line or JSON Lines with 'text'")
    classify.add_argument("--input", default="-", help="file to read (default: stdin)")
    classify.add_argument("--config", default=None, help="add the community words of this config")
    classify.set_defaults(func=cmd_classify)
    broadcast = sub.add_parser("broadcast", help="safety broadcasts: list, preview, send --now")
    b_sub = broadcast.add_subparsers(dest="broadcast_command", required=True)
    b_list = b_sub.add_parser("list", help="schedules and their next runs")
    b_list.add_argument("--config", default="config.toml")
    b_preview = b_sub.add_parser("preview", help="show the tips of a schedule as residents will read them")
    b_preview.add_argument("name")
    b_preview.add_argument("--count", type=int, default=3)
    b_preview.add_argument("--config", default="config.toml")
    b_send = b_sub.add_parser("send", help="queue a broadcast now (the running bot delivers it)")
    b_send.add_argument("name")
    b_send.add_argument("--now", action="store_true", required=True)
    b_send.add_argument("--config", default="config.toml")
    broadcast.set_defaults(func=cmd_broadcast)

    staff = sub.add_parser("staff", help="staff console accounts: set-password, api-token")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    set_password = staff_sub.add_parser("set-password", help="set a console password (read from stdin)")
    set_password.add_argument("name", help="the staff member's name as in [[staff]]")
    set_password.add_argument("--config", default="config.toml")
    set_password.set_defaults(func=cmd_staff_set_password)
    api_token = staff_sub.add_parser("api-token", help="issue a new API token (printed once)")
    api_token.add_argument("name", help="the staff member's name as in [[staff]]")
    api_token.add_argument("--config", default="config.toml")
    api_token.set_defaults(func=cmd_staff_api_token)
    purge = sub.add_parser("purge", help="delete or anonymise data older than [retention]")
    purge.add_argument("--config", default="config.toml")
    purge.add_argument("--dry-run", action="store_true", help="only count what would go")
    purge.set_defaults(func=cmd_purge)

    report = sub.add_parser("report", help="响应率 / 解决率 / 满意率 and counts for this week or month")
    report.add_argument("--config", default="config.toml")
    report.add_argument("--period", choices=("week", "month"), default="week")
    report.add_argument("--previous", action="store_true", help="the whole previous week or month")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
