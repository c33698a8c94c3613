"""translations: jobs (with their re-identified result) and the de-identified chunk cache

Revision ID: 0002
Revises: 0001

translation_jobs.result_text is the re-identified translation (PHI, like document_versions.text);
translation_cache holds de-identified chunks and their de-identified translations only.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('translation_jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('source_kind', sa.String(length=10), nullable=False),
    sa.Column('source_variant', sa.String(length=10), nullable=True),
    sa.Column('source_chars', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('ocr_pages', sa.Integer(), nullable=False),
    sa.Column('chunks_total', sa.Integer(), nullable=False),
    sa.Column('chunks_done', sa.Integer(), nullable=False),
    sa.Column('chunks_cached', sa.Integer(), nullable=False),
    sa.Column('result_text', sa.Text(), nullable=True),
    sa.Column('engine', sa.String(length=40), nullable=True),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('model_version', sa.String(length=100), nullable=True),
    sa.Column('latency_ms', sa.Double(), nullable=True),
    sa.Column('term_accuracy', sa.Double(), nullable=True),
    sa.Column('fallbacks_json', sa.Text(), nullable=False),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error_detail', sa.String(length=1000), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('translation_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_translation_jobs_created_at', ['created_at'], unique=False)

    op.create_table('translation_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('model_version', sa.String(length=100), nullable=False),
    sa.Column('contract_version', sa.String(length=20), nullable=False),
    sa.Column('glossary_version', sa.String(length=20), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('translation', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('translation_cache')
    with op.batch_alter_table('translation_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_translation_jobs_created_at')

    op.drop_table('translation_jobs')
