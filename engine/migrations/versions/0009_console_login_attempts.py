"""console: room for sealed TOTP secrets (admin.totp_key), and failed
sign-ins counted in the database so the limit holds across processes

Existing TOTP secrets stay plain and keep working; `usdtpay admin seal-totp`
seals them once USDTPAY_ADMIN__TOTP_KEY is set (the key is a setting, never
in the database, so a migration cannot do it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.models.base

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('admin_accounts', schema=None) as batch_op:
        batch_op.alter_column(
            'totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=255), existing_nullable=False
        )
    op.create_table(
        'admin_login_attempts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('at', engine.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_login_attempts')),
    )
    with op.batch_alter_table('admin_login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_admin_login_attempts_at', ['at'], unique=False)
        batch_op.create_index('ix_admin_login_attempts_key_at', ['key', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('admin_login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_login_attempts_key_at')
        batch_op.drop_index('ix_admin_login_attempts_at')
    op.drop_table('admin_login_attempts')
    with op.batch_alter_table('admin_accounts', schema=None) as batch_op:
        batch_op.alter_column(
            'totp_secret', existing_type=sa.String(length=255), type_=sa.String(length=64), existing_nullable=False
        )
