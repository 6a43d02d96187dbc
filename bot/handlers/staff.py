"""Staff run their day from the staff group or a private chat: 接单, 办结, 查询, 待办 …"""

from __future__ import annotations

from bot import texts
from bot.commands import STAFF_HELP, StaffCommand, parse_staff_command
from bot.router import Context, Router, from_staff, in_staff_group, is_private, is_text
from bot.services import tickets as service

router = Router("staff")


def has_staff_command(ctx: Context) -> bool:
    return parse_staff_command(ctx.message.text) is not None


def staff_place(ctx: Context) -> bool:
    return in_staff_group(ctx) or is_private(ctx)


@router.message(staff_place, is_text, has_staff_command, from_staff)
async def run_staff_command(ctx: Context) -> None:
    """Carry out a staff command and confirm it where it was given."""
    command = parse_staff_command(ctx.message.text)
    assert command is not None
    try:
        answer = await execute(ctx, command)
    except service.ServiceError as exc:
        answer = str(exc)
    await ctx.say(f"reply:{ctx.message.message_id}", ctx.reply(answer))


@router.message(in_staff_group, is_text, has_staff_command)
async def refuse_non_staff(ctx: Context) -> None:
    """Someone not in [[staff]] tried a command in the staff group: refuse politely, change nothing."""
    await ctx.say(f"reply:{ctx.message.message_id}", ctx.reply(texts.staff_only()))


def asks_the_bot(ctx: Context) -> bool:
    """Staff talking to the bot (privately, or @-ing it in the staff group) without a known command."""
    return is_private(ctx) or (in_staff_group(ctx) and ctx.message.mentions_me)


@router.message(is_text, from_staff, asks_the_bot)
async def staff_help(ctx: Context) -> None:
    """An unknown command gets the short help."""
    await ctx.say(f"reply:{ctx.message.message_id}", ctx.reply("没看懂这条命令。" + STAFF_HELP))


async def execute(ctx: Context, command: StaffCommand) -> str:
    actor = ctx.sender
    assert actor is not None
    if command.verb == "invalid":
        return command.error
    if command.verb == "help":
        return STAFF_HELP
    if command.verb == "todo":
        return await service.todo(ctx.session, ctx.settings, actor, ctx.now)
    ticket = await service.get_ticket(ctx.session, command.number)
    if command.verb == "show":
        return await service.describe(ctx.session, ctx.settings, ticket)
    if command.verb == "take":
        return await service.take(ctx.session, ctx.notify, ticket, actor)
    if command.verb == "reassign":
        return await service.reassign(ctx.session, ctx.notify, ticket, actor, command.arg)
    if command.verb == "resolve":
        return await service.resolve(ctx.session, ctx.notify, ticket, actor, command.arg)
    if command.verb == "reopen":
        return await service.reopen(ctx.session, ctx.notify, ticket, actor, command.arg)
    if command.verb == "recategorise":
        return await service.recategorise(ctx.session, ctx.notify, ticket, actor, command.arg)
    return await service.add_note(ctx.session, ctx.notify, ticket, actor, command.arg)
