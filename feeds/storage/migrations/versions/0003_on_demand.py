"""The feeds asked for at ``GET /full?url=``: kept, so that a restarted service keeps them
fresh and counts them against its cap.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from feeds.storage.schema import UtcTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "on_demand",
        sa.Column("url", sa.Text(), primary_key=True),
        sa.Column("max_items", sa.Integer(), primary_key=True),
        sa.Column("created", UtcTime(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("on_demand")
