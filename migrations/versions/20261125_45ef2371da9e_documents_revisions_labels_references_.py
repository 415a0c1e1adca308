"""documents, revisions, labels, references, results and jobs

Revision ID: 45ef2371da9e
Revises: 
Create Date: 2026-11-25 02:04:14.766958
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '45ef2371da9e'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('documents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('namespace', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('namespace', 'kind', 'name', name=op.f('uq_documents_namespace_kind_name')),
    sa.UniqueConstraint('uid', name=op.f('uq_documents_uid'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('namespace', sa.String(length=63), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('uid', name=op.f('uq_jobs_uid'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_status_created_at'), ['status', 'created_at'], unique=False)

    op.create_table('results',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('namespace', sa.String(length=63), nullable=False),
    sa.Column('subject_kind', sa.String(length=32), nullable=False),
    sa.Column('subject_name', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('input_revisions', sa.JSON(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results')),
    sa.UniqueConstraint('uid', name=op.f('uq_results_uid'))
    )
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_results_namespace_subject_kind_subject_name_kind_created_at'), ['namespace', 'subject_kind', 'subject_name', 'kind', 'created_at'], unique=False)

    op.create_table('document_labels',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=317), nullable=False),
    sa.Column('value', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_labels_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'key', name=op.f('pk_document_labels'))
    )
    with op.batch_alter_table('document_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_labels_key_value'), ['key', 'value'], unique=False)

    op.create_table('document_references',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=255), nullable=False),
    sa.Column('namespace', sa.String(length=63), nullable=False),
    sa.Column('target_kind', sa.String(length=32), nullable=False),
    sa.Column('target_name', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_references_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'field', name=op.f('pk_document_references'))
    )
    with op.batch_alter_table('document_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_references_namespace_target_kind_target_name'), ['namespace', 'target_kind', 'target_name'], unique=False)

    op.create_table('document_revisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_revisions_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_revisions')),
    sa.UniqueConstraint('document_id', 'revision', name=op.f('uq_document_revisions_document_id_revision'))
    )


def downgrade() -> None:
    op.drop_table('document_revisions')
    with op.batch_alter_table('document_references', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_references_namespace_target_kind_target_name'))

    op.drop_table('document_references')
    with op.batch_alter_table('document_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_labels_key_value'))

    op.drop_table('document_labels')
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_results_namespace_subject_kind_subject_name_kind_created_at'))

    op.drop_table('results')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_status_created_at'))

    op.drop_table('jobs')
    op.drop_table('documents')
