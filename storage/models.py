"""Database tables. Times are stored as UTC and always read back timezone-aware."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.events import utcnow


class UTCDateTime(TypeDecorator):
    """SQLite drops tzinfo; normalise to aware UTC on the way in and out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the database")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Grid(Base):
    __tablename__ = "grids"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Group(Base):
    """A WeChat group from [[groups]]; rows are kept in step with the config at start."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id"), nullable=True)
    room_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)


class Person(Base):
    """A resident (created on first message) or a staff member (from [[staff]])."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The chat identity: a wechat id, or for sandbox users "sandbox:<name>"; staff may have none yet.
    chat_id: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="resident")  # resident | grid_worker | supervisor
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffGrid(Base):
    __tablename__ = "staff_grids"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    grid_id: Mapped[str] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True)


class Ticket(Base):
    """One resident request, complaint or question, followed to closure. id is the #number."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | in_progress | resolved | closed | cancelled
    intent: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id"), nullable=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    source_message_id: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    due_at: Mapped[datetime]
    # SLA clocks (stored so they survive restarts): take = someone must 接单 by then.
    take_due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolution: Mapped[str] = mapped_column(Text, default="")
    # satisfied | dissatisfied | none (no answer in time); NULL until asked and answered.
    satisfaction: Mapped[str | None] = mapped_column(String(20), nullable=True)
    feedback_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    team: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # What the report is about, for spotting duplicates: {"places": [...], "objects": [...]}.
    signature: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_tickets_status_due", "status", "due_at"),)


class TicketReporter(Base):
    """Everyone who reported the same problem (the first reporter and each 附议)."""

    __tablename__ = "ticket_reporters"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    # Where to mention them: their chat id and the name shown in that group.
    chat_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    room_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketEvent(Base):
    """The audit trail: every change to a ticket, who made it and when."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)  # None = the bot
    kind: Mapped[str] = mapped_column(String(40))  # created | assigned | alerted | ...
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxMessage(Base):
    """Every incoming message is stored, at the latest in the transaction that processes it."""

    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="received")  # received | processed | failed
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_inbox_status", "status"),)


class OutboxMessage(Base):
    """Everything the bot says: written first, then sent, then marked sent."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Who owes what to whom, e.g. "ticket:12:ack"; the same key is never queued twice.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    room_topic: Mapped[str | None] = mapped_column(String(200), nullable=True)
    room_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    to_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    mention_ids: Mapped[list] = mapped_column(JSON, default=list)
    mention_names: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sending | sent | failed
    # chat = the WeChat/sandbox transport; webhook:<name> = a staff robot from [[webhooks]].
    channel: Mapped[str] = mapped_column(String(100), default="chat")
    # Several bot instances (one WeChat account each) may share a database: each sends its own rows.
    account: Mapped[str] = mapped_column(String(100), default="default", server_default="default")
    priority: Mapped[int] = mapped_column(default=0)  # emergencies jump the queue
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class Attachment(Base):
    """A photo a resident sent about a ticket, stored under the data folder."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BroadcastSlot(Base):
    """One firing of a schedule; the unique key makes each (schedule, slot) go out once, across instances."""

    __tablename__ = "broadcast_slots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100))
    slot_at: Mapped[datetime]  # the cron time it belongs to
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | skipped
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("schedule", "slot_at", name="uq_broadcast_slot"),)


class BroadcastSend(Base):
    """Which tip went to which group: rotation without repeats until every tip was sent."""

    __tablename__ = "broadcast_sends"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("broadcast_slots.id", ondelete="CASCADE"), index=True)
    schedule: Mapped[str] = mapped_column(String(100))
    group_topic: Mapped[str] = mapped_column(String(200))
    tip_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_broadcast_sends_rotation", "schedule", "group_topic"),)


class Notice(Base):
    """An ad-hoc notice a supervisor drafted in the staff group (通知 …), sent after 确认发送."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    targets: Mapped[list] = mapped_column(JSON, default=list)  # group topics
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | sent | discarded
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class StaffCredential(Base):
    """A staff member's console password (slow KDF hash) and optional API token (hash only)."""

    __tablename__ = "staff_credentials"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
