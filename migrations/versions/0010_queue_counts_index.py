"""queue badge counts: a covering index so an agency's counts are read from the index alone

The officer queue counts an agency's tickets per status, assignment and deadline state on every
page. With a million tickets a busy ward holds ~25,000 rows scattered over the table: reading them
took ~0.5 s; from this index (index-only scan) ~10 ms. PostgreSQL only (INCLUDE); elsewhere the
existing (agency_id, status) index serves.

Revision ID: 0010
Revises: 0001
"""

from alembic import op

revision = "0010"
down_revision = "0001"
branch_labels = None
depends_on = None

INCLUDE = ["due_state", "assignee_id", "kind", "category_id", "channel"]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_ticket_queue_counts", "ticket", ["agency_id", "status"],
                        postgresql_include=INCLUDE)  # fmt: skip


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_ticket_queue_counts", table_name="ticket")
