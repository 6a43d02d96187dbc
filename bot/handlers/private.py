"""Private messages to the bot from residents (staff commands are handled by the staff router)."""

from __future__ import annotations

from bot import texts
from bot.commands import parse_resident_command
from bot.handlers.resident import answer_resident_command
from bot.router import Context, Router, from_resident, is_private, is_text

router = Router("private")


@router.message(is_private, is_text, from_resident)
async def answer_private_message(ctx: Context) -> None:
    """Resident commands work privately too; anything else: report in your building group."""
    if parse_resident_command(ctx.message.text) is not None:
        await answer_resident_command(ctx)
        return
    await ctx.say(f"private-help:{ctx.message.message_id}", ctx.reply(texts.private_help(ctx.settings.community.bot_name)))
