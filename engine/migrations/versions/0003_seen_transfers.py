"""seen transfers: transfers above the final head that concern an order (issue 17)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('seen_transfers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('chain', sa.String(length=8), nullable=False),
    sa.Column('tx_hash', sa.String(length=80), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_address', sa.String(length=64), nullable=False),
    sa.Column('to_address', sa.String(length=64), nullable=False),
    sa.Column('amount_units', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seen_transfers')),
    sa.UniqueConstraint('chain', 'tx_hash', 'log_index', name=op.f('uq_seen_transfers_chain_tx_hash_log_index'))
    )
    with op.batch_alter_table('seen_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_seen_transfers_chain_block', ['chain', 'block_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_seen_transfers_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('seen_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_transfers_order_id'))
        batch_op.drop_index('ix_seen_transfers_chain_block')
    op.drop_table('seen_transfers')
