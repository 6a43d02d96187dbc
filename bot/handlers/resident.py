"""Resident messages in resident groups: reports and questions become tickets."""

from __future__ import annotations

from bot import texts
from bot.events import Outgoing
from bot.router import Context, Router, in_resident_group, is_text
from storage import directory, tickets

router = Router("resident")


@router.message(in_resident_group, is_text)
async def open_ticket_for_report(ctx: Context) -> None:
    """Request, complaint or inquiry → ticket, reply in the group, alert in the staff group."""
    result = ctx.classifier.classify(ctx.message.text)
    if not result.actionable:
        if ctx.message.mentions_me:  # asked directly: always answer
            await ctx.say(
                f"help:{ctx.message.message_id}",
                Outgoing(text=texts.help_note(ctx.settings.community.bot_name), room_topic=ctx.group.topic,
                         room_id=ctx.message.room_id, mention_ids=(ctx.message.talker_id,),
                         mention_names=(ctx.message.display_name,)),
            )
        return  # chit-chat, thanks, notices: stay silent
    group, resident = ctx.group, ctx.sender
    assert group is not None and resident is not None
    workers = await directory.grid_workers(ctx.session, group.grid_id)
    assignee = workers[0] if workers else None
    hours = ctx.settings.sla.hours_for(result.urgency)
    ticket = await tickets.open_ticket(
        ctx.session,
        intent=result.intent,
        category=result.category,
        urgency=result.urgency,
        text=ctx.message.text,
        keywords=result.keywords,
        group_id=group.id,
        grid_id=group.grid_id,
        reporter_id=resident.id,
        assignee_id=assignee.id if assignee else None,
        source_message_id=ctx.message.message_id,
        now=ctx.now,
        sla_hours=hours,
    )
    if result.intent == "inquiry":
        ack = texts.inquiry_ack(ticket.id, hours)
    else:
        ack = texts.report_ack(ticket.id, result.category, assignee.name if assignee else None, hours)
    await ctx.say(
        f"ticket:{ticket.id}:ack",
        Outgoing(
            text=ack,
            room_topic=group.topic,
            room_id=ctx.message.room_id,
            mention_ids=(ctx.message.talker_id,),
            mention_names=(ctx.message.display_name,),
        ),
    )
    staff_group = ctx.settings.staff_group()
    if staff_group is None:
        return
    alert = texts.staff_alert(
        number=ticket.id,
        intent=result.intent,
        category=result.category,
        urgency=result.urgency,
        group_topic=group.topic,
        grid_name=ctx.settings.grid_name(group.grid_id),
        resident=ctx.message.display_name,
        text=ctx.message.text,
        keywords=result.keywords,
        assignee=assignee.name if assignee else None,
        due=texts.local_time(ticket.due_at, ctx.settings.community.tz),
    )
    await ctx.say(
        f"ticket:{ticket.id}:alert",
        Outgoing(
            text=alert,
            room_topic=staff_group.topic,
            room_id=staff_group.room_id,
            mention_ids=tuple(p.chat_id for p in [assignee] if p is not None and p.chat_id),
            mention_names=tuple(p.name for p in [assignee] if p is not None),
        ),
    )
    await tickets.add_event(ctx.session, ticket.id, "alerted", staff_group.topic, actor_id=None, now=ctx.now)
