"""orders created from a trusted network only get their own order-number space (issue 12)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_create', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.drop_constraint('uq_orders_merchant_id_merchant_order_no', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_orders_merchant_id_open_create_merchant_order_no'),
            ['merchant_id', 'open_create', 'merchant_order_no'],
        )


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('uq_orders_merchant_id_open_create_merchant_order_no'), type_='unique'
        )
        batch_op.create_unique_constraint(
            batch_op.f('uq_orders_merchant_id_merchant_order_no'), ['merchant_id', 'merchant_order_no']
        )
        batch_op.drop_column('open_create')
