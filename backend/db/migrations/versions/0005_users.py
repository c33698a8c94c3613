"""users and user_sessions; documents record the signer as a person; audit events name the user

Revision ID: 0005
Revises: 0004

Issue 18: clinicians sign in (argon2id hashes, server-side sessions stored as sha256 of the
cookie's token), and a signature records the user's id and professional registry number.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('registry_type', sa.String(length=40), nullable=True),
        sa.Column('registry_number', sa.String(length=40), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('failed_logins', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username'),
    )
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('reauth_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_sha256'),
    )
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id'])
    op.create_index('ix_user_sessions_expires_at', 'user_sessions', ['expires_at'])
    with op.batch_alter_table('documents') as batch:
        batch.add_column(sa.Column('signer_user_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('signer_registry_type', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('signer_registry_number', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('signed_via_key', sa.String(length=100), nullable=True))
        batch.create_foreign_key('fk_documents_signer_user_id', 'users', ['signer_user_id'], ['id'],
                                 ondelete='RESTRICT')
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch.create_index('ix_audit_events_user_id', ['user_id'])


def downgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_index('ix_audit_events_user_id')
        batch.drop_column('user_id')
    with op.batch_alter_table('documents') as batch:
        batch.drop_constraint('fk_documents_signer_user_id', type_='foreignkey')
        batch.drop_column('signed_via_key')
        batch.drop_column('signer_registry_number')
        batch.drop_column('signer_registry_type')
        batch.drop_column('signer_user_id')
    op.drop_index('ix_user_sessions_expires_at', table_name='user_sessions')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
    op.drop_table('users')
