"""watcher leases: who watches a chain, its last error and since when it fails

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('watcher_leases',
    sa.Column('chain', sa.String(length=8), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released', sa.Boolean(), nullable=False),
    sa.Column('last_ok_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=512), nullable=True),
    sa.Column('errors', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_watcher_leases'))
    )


def downgrade() -> None:
    op.drop_table('watcher_leases')
