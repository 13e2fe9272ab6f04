"""A cluster's schedule, kept in the state: each feed's next due run and the run last
sent to the queue, so that a scheduler's restart or failover resumes it and a lost
message is sent again; the workers seen, for `feeds status`.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from feeds.storage.schema import UtcTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule",
        sa.Column("feed", sa.Text(), primary_key=True),
        sa.Column("next_due", UtcTime(), nullable=False),
        sa.Column("sent_due", UtcTime()),
        sa.Column("sent_at", UtcTime()),
        sa.Column("sends", sa.Integer(), nullable=False, server_default="0"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "workers",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("seen", UtcTime(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unrecorded", sa.Integer(), nullable=False, server_default="0"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_table("schedule")
