"""Supervisors send ad-hoc notices to resident groups from the staff group."""

from __future__ import annotations

from bot.broadcasts import notices
from bot.router import Context, Router, in_staff_group, is_text

router = Router("notices")


def has_notice_command(ctx: Context) -> bool:
    return notices.parse(ctx.message.text) is not None


@router.message(in_staff_group, is_text, has_notice_command)
async def handle_notice(ctx: Context) -> None:
    """通知 全部/群名 内容 → preview; 确认发送 → queue; 取消通知 → discard. Supervisors only."""
    command = notices.parse(ctx.message.text)
    assert command is not None
    if ctx.sender is None or ctx.sender.role != "supervisor":
        answer = "抱歉，群发通知需要社区负责人来发。"
    elif command.verb == "draft":
        answer = await notices.draft(ctx.session, ctx.settings, ctx.sender, command, ctx.now)
    elif command.verb == "confirm":
        answer = await notices.confirm(ctx.session, ctx.notify, ctx.sender)
    else:
        answer = await notices.discard(ctx.session, ctx.sender, ctx.now)
    await ctx.say(f"reply:{ctx.message.message_id}", ctx.reply(answer))
