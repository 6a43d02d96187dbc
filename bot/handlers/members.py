"""People joining resident groups."""

from __future__ import annotations

from bot import texts
from bot.events import Outgoing
from bot.router import Context, Router, in_resident_group, is_kind

router = Router("members")


@router.message(in_resident_group, is_kind("join"))
async def greet_new_resident(ctx: Context) -> None:
    """Tell a resident who just joined how to report a problem (can be turned off)."""
    greeting = ctx.settings.greeting
    if not greeting.enabled or ctx.sender is None or ctx.sender.role != "resident":
        return
    text = greeting.text or texts.greeting(ctx.settings.community.name, ctx.settings.community.bot_name)
    await ctx.say(
        f"greet:{ctx.message.message_id}",
        Outgoing(text=text, room_topic=ctx.message.room_topic, room_id=ctx.message.room_id,
                 mention_ids=(ctx.message.talker_id,), mention_names=(ctx.message.display_name,)),
    )
