"""Broadcast slots and rotation, ad-hoc notices, console credentials.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broadcast_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('slot_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule', 'slot_at', name='uq_broadcast_slot')
    )
    op.create_table('broadcast_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('group_topic', sa.String(length=200), nullable=False),
    sa.Column('tip_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['slot_id'], ['broadcast_slots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('broadcast_sends', schema=None) as batch_op:
        batch_op.create_index('ix_broadcast_sends_rotation', ['schedule', 'group_topic'], unique=False)
        batch_op.create_index(batch_op.f('ix_broadcast_sends_slot_id'), ['slot_id'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('staff_credentials',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('api_token_hash', sa.String(length=128), nullable=True),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id'),
    sa.UniqueConstraint('api_token_hash')
    )


def downgrade() -> None:
    op.drop_table('staff_credentials')
    op.drop_table('notices')
    with op.batch_alter_table('broadcast_sends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_sends_slot_id'))
        batch_op.drop_index('ix_broadcast_sends_rotation')

    op.drop_table('broadcast_sends')
    op.drop_table('broadcast_slots')
