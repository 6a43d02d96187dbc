"""Private messages to the bot."""

from __future__ import annotations

from bot import texts
from bot.events import Outgoing
from bot.router import Context, Router, is_private, is_text

router = Router("private")


@router.message(is_private, is_text)
async def explain_where_to_report(ctx: Context) -> None:
    """Residents writing privately are asked to report in their building group, where staff see it."""
    await ctx.say(
        f"private-help:{ctx.message.message_id}",
        Outgoing(text=texts.private_help(ctx.settings.community.bot_name), to_id=ctx.message.talker_id),
    )
