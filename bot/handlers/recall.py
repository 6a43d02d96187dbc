"""A resident taking back the message that opened a ticket."""

from __future__ import annotations

from bot import texts
from bot.events import Outgoing
from bot.router import Context, Router, in_resident_group, is_kind
from storage import tickets

router = Router("recall")


@router.message(in_resident_group, is_kind("recalled"))
async def cancel_ticket_of_recalled_message(ctx: Context) -> None:
    """Cancel the ticket a recalled message opened, if staff have not touched it yet."""
    if not ctx.message.recalled_id:
        return
    ticket = await tickets.ticket_for_message(ctx.session, ctx.message.recalled_id)
    if ticket is None or ctx.sender is None or ticket.reporter_id != ctx.sender.id:
        return  # unknown message, or not the reporter's own
    if not await tickets.is_untouched(ctx.session, ticket):
        return  # staff are working on it: keep it
    await tickets.cancel(ctx.session, ticket, reason="居民撤回了原消息", actor_id=ctx.sender.id, now=ctx.now)
    staff_group = ctx.settings.staff_group()
    if staff_group is not None:
        await ctx.say(
            f"ticket:{ticket.id}:recalled",
            Outgoing(text=texts.recall_cancelled(ticket.id, ctx.message.display_name, ctx.message.room_topic or ""),
                     room_topic=staff_group.topic, room_id=staff_group.room_id),
        )
