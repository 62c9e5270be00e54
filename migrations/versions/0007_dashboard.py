"""dashboard: working-day durations on ticket, period indexes, report table

Revision ID: 0007
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

# The dashboard's date indexes: name → (column, columns carried along on PostgreSQL).
_DIMS = ["agency_id", "category_id", "channel", "kind"]
REPORT_INDEXES = {
    "ix_ticket_report_received_at": (
        "received_at",
        [*_DIMS, "status", "acceptance_due", "resolution_due"],
    ),
    "ix_ticket_report_first_response_at": ("first_response_at", [*_DIMS, "first_response_wd"]),
    "ix_ticket_report_resolved_at": ("resolved_at", [*_DIMS, "resolution_wd", "resolved_on_time"]),
}

# Open statuses when this was written (service.domain.lifecycle.OPEN_STATUSES); the partial
# index is only an aid: if the list changes, queries stay right and the index goes unused.
_OPEN = ", ".join(
    f"'{s}'"
    for s in (
        "accepted",
        "in_progress",
        "need_info",
        "received",
        "reopened",
        "routed",
        "transferred",
    )
)

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.add_column(sa.Column("first_response_wd", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolution_wd", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolved_on_time", sa.Boolean(), nullable=True))
    # On PostgreSQL the indexes cover their query (INCLUDE), allowing index-only scans.
    for name, (column, include) in REPORT_INDEXES.items():
        op.create_index(name, "ticket", [column], unique=False, postgresql_include=include)
    op.create_index(
        "ix_ticket_report_open", "ticket", ["received_at"], unique=False,
        postgresql_include=_DIMS, postgresql_where=sa.text(f"status IN ({_OPEN})"),
    )  # fmt: skip

    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.String(length=500), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_report_requested_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
    )
    with op.batch_alter_table("report") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_requested_by_id"), ["requested_by_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("report") as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_requested_by_id"))
    op.drop_table("report")
    for name in [*REPORT_INDEXES, "ix_ticket_report_open"]:
        op.drop_index(name, table_name="ticket")
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.drop_column("resolved_on_time")
        batch_op.drop_column("resolution_wd")
        batch_op.drop_column("first_response_wd")
