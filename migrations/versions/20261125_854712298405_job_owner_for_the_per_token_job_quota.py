"""job owner for the per-token job quota (``PLANNER_JOBS_PER_TOKEN``)

Jobs queued before this revision have no owner and count against no token.

Revision ID: 854712298405
Revises: b7d41c0e9a52
Create Date: 2026-11-25 04:55:14.359416
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '854712298405'
down_revision: str | Sequence[str] | None = 'b7d41c0e9a52'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_jobs_owner_status'), ['owner', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_owner_status'))
        batch_op.drop_column('owner')
