"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:42:03.596113
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('chain_cursors',
    sa.Column('chain', sa.String(length=8), nullable=False),
    sa.Column('next_block', sa.BigInteger(), nullable=False),
    sa.Column('head', sa.BigInteger(), nullable=True),
    sa.Column('final_head', sa.BigInteger(), nullable=True),
    sa.Column('head_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('blocks_processed', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('chain', name=op.f('pk_chain_cursors'))
    )
    op.create_table('channel_payments',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('client_type', sa.String(length=16), nullable=False),
    sa.Column('out_trade_no', sa.String(length=64), nullable=False),
    sa.Column('channel_trade_no', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('pay_data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_payments')),
    sa.UniqueConstraint('channel', 'channel_trade_no', name=op.f('uq_channel_payments_channel_channel_trade_no')),
    sa.UniqueConstraint('out_trade_no', name=op.f('uq_channel_payments_out_trade_no'))
    )
    with op.batch_alter_table('channel_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_payments_order_id'), ['order_id'], unique=False)

    op.create_table('merchants',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pid', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchants')),
    sa.UniqueConstraint('pid', name=op.f('uq_merchants_pid'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('scheme', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=1024), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_notifications_delivery_id'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_order_id'), ['order_id'], unique=False)

    op.create_table('rate_snapshots',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rate', sa.String(length=32), nullable=False),
    sa.Column('median', sa.String(length=32), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_snapshots'))
    )
    with op.batch_alter_table('rate_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_snapshots_fetched_at'), ['fetched_at'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('chain', sa.String(length=8), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('amount_units', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('held_until', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations')),
    sa.UniqueConstraint('chain', 'address', 'amount_units', name=op.f('uq_reservations_chain_address_amount_units'))
    )
    op.create_table('transfers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('chain', sa.String(length=8), nullable=False),
    sa.Column('tx_hash', sa.String(length=80), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_address', sa.String(length=64), nullable=False),
    sa.Column('to_address', sa.String(length=64), nullable=False),
    sa.Column('token_contract', sa.String(length=64), nullable=False),
    sa.Column('amount_units', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers')),
    sa.UniqueConstraint('chain', 'tx_hash', 'log_index', name=op.f('uq_transfers_chain_tx_hash_log_index'))
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index('ix_transfers_block', ['chain', 'block_number'], unique=False)
        batch_op.create_index('ix_transfers_status', ['status'], unique=False)

    op.create_table('wallets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('chain', sa.String(length=8), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallets')),
    sa.UniqueConstraint('chain', 'address', name=op.f('uq_wallets_chain_address'))
    )
    op.create_table('notification_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('attempt_no', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.String(length=2048), nullable=True),
    sa.Column('error', sa.String(length=512), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_notification_attempts_notification_id_notifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_attempts'))
    )
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_attempts_notification_id'), ['notification_id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('merchant_order_no', sa.String(length=64), nullable=False),
    sa.Column('face', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=256), nullable=False),
    sa.Column('currency', sa.String(length=4), nullable=False),
    sa.Column('fiat_fen', sa.BigInteger(), nullable=True),
    sa.Column('usdt_price_units', sa.BigInteger(), nullable=True),
    sa.Column('usdt_units', sa.BigInteger(), nullable=True),
    sa.Column('rate', sa.String(length=32), nullable=True),
    sa.Column('chain', sa.String(length=8), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('paid_late', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notify_url', sa.String(length=1024), nullable=False),
    sa.Column('return_url', sa.String(length=1024), nullable=False),
    sa.Column('param', sa.Text(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=True),
    sa.Column('tx_hash', sa.String(length=80), nullable=True),
    sa.Column('payer_address', sa.String(length=64), nullable=True),
    sa.Column('block_number', sa.BigInteger(), nullable=True),
    sa.Column('paid_units', sa.BigInteger(), nullable=True),
    sa.Column('channel_trade_no', sa.String(length=64), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_orders_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_orders_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('merchant_id', 'merchant_order_no', name=op.f('uq_orders_merchant_id_merchant_order_no')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_orders_transfer_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_match', ['chain', 'address', 'usdt_units'], unique=False)
        batch_op.create_index('ix_orders_status_expires', ['status', 'expires_at'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_status_expires')
        batch_op.drop_index('ix_orders_match')

    op.drop_table('orders')
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_attempts_notification_id'))

    op.drop_table('notification_attempts')
    op.drop_table('wallets')
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_transfers_status')
        batch_op.drop_index('ix_transfers_block')

    op.drop_table('transfers')
    op.drop_table('reservations')
    with op.batch_alter_table('rate_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_snapshots_fetched_at'))

    op.drop_table('rate_snapshots')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_order_id'))
        batch_op.drop_index('ix_notifications_due')

    op.drop_table('notifications')
    op.drop_table('merchants')
    with op.batch_alter_table('channel_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_payments_order_id'))

    op.drop_table('channel_payments')
    op.drop_table('chain_cursors')
    
