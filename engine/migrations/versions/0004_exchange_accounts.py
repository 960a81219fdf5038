"""exchange receiving accounts and their watcher cursors (issue 13, seed 004 type 2)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exchange_accounts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('exchange', sa.String(length=8), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('pay_to', sa.String(length=128), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('api_key', sa.String(length=512), nullable=False),
    sa.Column('api_secret', sa.String(length=512), nullable=False),
    sa.Column('passphrase', sa.String(length=512), nullable=False),
    sa.Column('rights', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_accounts')),
    sa.UniqueConstraint('exchange', 'uid', name=op.f('uq_exchange_accounts_exchange_uid'))
    )
    op.create_table('exchange_cursors',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('scanned_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('open_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('polls', sa.BigInteger(), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.Column('last_error', sa.String(length=512), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['exchange_accounts.id'], name=op.f('fk_exchange_cursors_account_id_exchange_accounts')),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_exchange_cursors'))
    )


def downgrade() -> None:
    op.drop_table('exchange_cursors')
    op.drop_table('exchange_accounts')
