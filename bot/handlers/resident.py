"""Resident messages in resident groups: their commands, and reports that become tickets."""

from __future__ import annotations

from bot import texts
from bot.commands import parse_resident_command
from bot.router import Context, Router, from_resident, in_resident_group, is_text
from bot.services import intake
from bot.services import tickets as service
from storage import tickets as repo

router = Router("resident")


def has_resident_command(ctx: Context) -> bool:
    return parse_resident_command(ctx.message.text) is not None


@router.message(in_resident_group, is_text, from_resident, has_resident_command)
async def run_resident_command(ctx: Context) -> None:
    """查询 / 进度, 撤销 #N, 满意 / 不满意."""
    await answer_resident_command(ctx)


async def answer_resident_command(ctx: Context) -> None:
    command = parse_resident_command(ctx.message.text)
    assert command is not None and ctx.sender is not None
    key = f"reply:{ctx.message.message_id}"
    try:
        if command.verb == "invalid":
            answer = command.error
        elif command.verb == "status":
            answer = await service.resident_status(ctx.session, ctx.settings, ctx.sender)
        elif command.verb == "withdraw":
            ticket = await service.get_ticket(ctx.session, command.number)
            answer = await service.withdraw(ctx.session, ctx.notify, ticket, ctx.sender)
        else:
            ticket = await repo.awaiting_rating(ctx.session, ctx.sender.id, command.number)
            if ticket is None:
                return  # 满意 said in passing, nothing waiting for a rating: stay quiet
            answer = await service.rate(ctx.session, ctx.notify, ticket, ctx.sender,
                                        command.verb == "satisfied", command.arg)
    except service.ServiceError as exc:
        answer = str(exc)
    await ctx.say(key, ctx.reply(answer))


@router.message(in_resident_group, is_text, from_resident)
async def open_ticket_for_report(ctx: Context) -> None:
    """Request, complaint or inquiry → ticket (or 附议), reply in the group, alert in the staff group."""
    result = ctx.classifier.classify(ctx.message.text)
    if not result.actionable:
        if ctx.message.mentions_me:  # asked directly: always answer
            await ctx.say(f"help:{ctx.message.message_id}", ctx.reply(texts.help_note(ctx.settings.community.bot_name)))
        return  # chit-chat, thanks, notices: stay silent
    assert ctx.group is not None and ctx.sender is not None
    await intake.take_report(ctx.session, ctx.notify, ctx.roster, ctx.open_tickets, ctx.message, ctx.group,
                             ctx.sender, result)
