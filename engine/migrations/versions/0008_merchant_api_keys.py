"""merchants: an API key apart from the signing key (its SHA-256 only), and
room for a sealed signing key (issue 12, finding 10)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_key_hash', sa.String(length=64), nullable=True))
        batch_op.alter_column(
            'key', existing_type=sa.String(length=128), type_=sa.String(length=255), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.alter_column(
            'key', existing_type=sa.String(length=255), type_=sa.String(length=128), existing_nullable=False
        )
        batch_op.drop_column('api_key_hash')
