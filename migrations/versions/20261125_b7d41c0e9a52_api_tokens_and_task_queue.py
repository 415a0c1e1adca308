"""api tokens; the procrastinate task queue schema on PostgreSQL

The queue's tables and functions live in their own PostgreSQL schema, ``procrastinate``, created from the schema
SQL shipped with the installed procrastinate release; every queue connection sets ``search_path`` to it
(planner.queue.app). SQLite databases get no queue: jobs run in the service process there.

Revision ID: b7d41c0e9a52
Revises: 45ef2371da9e
Create Date: 2026-11-25 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7d41c0e9a52'
down_revision: str | Sequence[str] | None = '45ef2371da9e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_SCHEMA = "procrastinate"


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('display_prefix', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('namespaces', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('digest', name=op.f('uq_api_tokens_digest')),
    sa.UniqueConstraint('uid', name=op.f('uq_api_tokens_uid'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_name'), ['name'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        schema_sql = SchemaManager.get_schema()
        bind.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{QUEUE_SCHEMA}"')
        previous = bind.exec_driver_sql("SELECT current_setting('search_path')").scalar_one()
        bind.exec_driver_sql(f"SELECT set_config('search_path', '{QUEUE_SCHEMA}', true)")
        # several statements with dollar-quoted bodies: run them as one simple query on the driver connection
        driver = bind.connection.dbapi_connection
        assert driver is not None
        driver.run_async(lambda connection: connection.execute(schema_sql))
        bind.exec_driver_sql("SELECT set_config('search_path', $1, true)", (previous,))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'DROP SCHEMA IF EXISTS "{QUEUE_SCHEMA}" CASCADE')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_name'))

    op.drop_table('api_tokens')
