"""search vector kept by the route job, not computed by every filing

`ticket.search_vector` was a stored generated column: every INSERT ran to_tsvector over the
title and description and added a GIN entry, about a quarter of the database's work per filed
ticket. It becomes a plain column that routing fills (service.domain.search.index_ticket; the
console only ever searches routed tickets), and its GIN index skips the rows not indexed yet.
Existing rows keep their vectors: DROP EXPRESSION leaves the stored values in place.

Revision ID: 0101
Revises: 0100
"""

from alembic import op

revision = "0101"
down_revision = "0100"
branch_labels = None
depends_on = None

# As in 0003, frozen here: a migration must not change when the application code does.
DOCUMENT = (
    "to_tsvector('pakn_vi'::regconfig, coalesce(code, '') || ' ' || title || ' ' || "
    "description || ' ' || coalesce(address, ''))"
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # elsewhere the folded text in ticket_search is kept by the same calls
    op.execute("ALTER TABLE ticket ALTER COLUMN search_vector DROP EXPRESSION")
    op.execute("DROP INDEX IF EXISTS ix_ticket_agency_search")
    op.execute(
        "CREATE INDEX ix_ticket_agency_search ON ticket USING gin (agency_id, search_vector) "
        "WHERE search_vector IS NOT NULL"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_ticket_agency_search")
    op.execute("ALTER TABLE ticket DROP COLUMN search_vector")
    op.execute(f"ALTER TABLE ticket ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({DOCUMENT}) STORED")
    op.execute("CREATE INDEX ix_ticket_agency_search ON ticket USING gin (agency_id, search_vector)")
