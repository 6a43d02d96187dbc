"""Close the loop: reporters, SLA timers, feedback, outbox channels and priority.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_reporters',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.String(length=200), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('room_id', sa.String(length=200), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'person_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=100), nullable=False, server_default='chat'))
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('take_due_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('satisfaction', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('feedback_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('team', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('signature', sa.JSON(), nullable=False, server_default='{}'))

    # Tickets opened before this revision: their reporter becomes the first row of ticket_reporters.
    op.execute(
        "INSERT INTO ticket_reporters (ticket_id, person_id, group_id, chat_id, display_name, message_id, created_at) "
        "SELECT t.id, t.reporter_id, t.group_id, COALESCE(p.chat_id, ''), p.name, t.source_message_id, t.created_at "
        "FROM tickets t JOIN people p ON p.id = t.reporter_id"
    )


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('signature')
        batch_op.drop_column('team')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('feedback_at')
        batch_op.drop_column('satisfaction')
        batch_op.drop_column('resolution')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('take_due_at')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('priority')
        batch_op.drop_column('channel')

    op.drop_table('ticket_reporters')
