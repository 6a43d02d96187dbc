"""Photos residents send right after a report are attached to that ticket."""

from __future__ import annotations

import os
from datetime import timedelta

from bot import texts
from bot.events import Outgoing
from bot.router import Context, Router, in_resident_group, is_kind
from storage import tickets

router = Router("photos")

# A photo this soon after a report belongs to it.
PHOTO_WINDOW = timedelta(minutes=10)


@router.message(in_resident_group, is_kind("image"))
async def attach_photo_to_recent_ticket(ctx: Context) -> None:
    """Attach the photo to the resident's ticket from the last 10 minutes and tell staff."""
    path = ctx.message.attachment_path
    if not path or ctx.group is None or ctx.sender is None:
        return
    ticket = await tickets.latest_open_ticket_of(
        ctx.session, reporter_id=ctx.sender.id, group_id=ctx.group.id, since=ctx.message.time - PHOTO_WINDOW
    )
    if ticket is None:
        return  # a photo with no recent report: chit-chat
    size = os.path.getsize(path) if os.path.exists(path) else 0
    if not await tickets.attach_photo(ctx.session, ticket, message_id=ctx.message.message_id, path=path,
                                      size=size, actor_id=ctx.sender.id, now=ctx.now):
        return
    staff_group = ctx.settings.staff_group()
    if staff_group is None:
        return
    photos = await tickets.photo_count(ctx.session, ticket.id)
    await ctx.say(
        f"ticket:{ticket.id}:photo:{ctx.message.message_id}",
        Outgoing(text=texts.photo_alert(ticket.id, ctx.message.display_name, photos),
                 room_topic=staff_group.topic, room_id=staff_group.room_id),
    )
