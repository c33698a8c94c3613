"""idempotency_keys: Idempotency-Key of document-creating POSTs, stored with the document they made

Revision ID: 0004
Revises: 0003

Holds sha256 digests of the key and the request, the document id and an expiry; no patient data.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'idempotency_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('api_key', sa.String(length=100), nullable=False),
        sa.Column('key_sha256', sa.String(length=64), nullable=False),
        sa.Column('request_sha256', sa.String(length=64), nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('api_key', 'key_sha256'),
    )
    op.create_index('ix_idempotency_keys_expires_at', 'idempotency_keys', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_idempotency_keys_expires_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
