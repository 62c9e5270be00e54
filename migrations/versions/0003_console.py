"""officer console: templates, assignment, referrals, followers, splits, queue search

Response templates, auto-assignment policies, referrals, followers of an original, split links,
queue indexes and accent-insensitive search (PostgreSQL full text; folded text elsewhere).

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

# PostgreSQL: a text search configuration copied from `simple` that strips accents from words,
# so "duong hong" finds "đường hỏng". to_tsvector(regconfig, text) is IMMUTABLE, so it can feed
# a stored generated column (unaccent() itself is not, which is why it is only a dictionary here).
PG_SEARCH_UP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION pakn_vi (COPY = simple)",
    "ALTER TEXT SEARCH CONFIGURATION pakn_vi "
    "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple",
    # Citizen identity is deliberately not part of the document (denouncer confidentiality).
    "ALTER TABLE ticket ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "to_tsvector('pakn_vi'::regconfig, coalesce(code, '') || ' ' || title || ' ' || "
    "description || ' ' || coalesce(address, ''))) STORED",
    # One GIN over (agency, words) via btree_gin: an officer's search intersects the agency's
    # entries with the words inside the index instead of reading every match in the province.
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "CREATE INDEX ix_ticket_agency_search ON ticket USING gin (agency_id, search_vector)",
]
PG_SEARCH_DOWN = [
    "DROP INDEX IF EXISTS ix_ticket_agency_search",
    "ALTER TABLE ticket DROP COLUMN IF EXISTS search_vector",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS pakn_vi",
]


def upgrade():
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("body_vi", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_response_template_category_id_category")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_template")),
    )
    with op.batch_alter_table("response_template") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_response_template_category_id"), ["category_id"], unique=False
        )

    op.create_table(
        "assignment_policy",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("max_open_per_officer", sa.Integer(), nullable=True),
        sa.Column("last_assignee_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_assignment_policy_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["last_assignee_id"], ["user_account.id"],
            name=op.f("fk_assignment_policy_last_assignee_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_assignment_policy")),
    )

    op.create_table(
        "ticket_referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("from_agency_id", sa.Integer(), nullable=False),
        sa.Column("to_agency_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_referral_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["from_agency_id"], ["agency.id"], name=op.f("fk_ticket_referral_from_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["to_agency_id"], ["agency.id"], name=op.f("fk_ticket_referral_to_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["ticket_event.id"], name=op.f("fk_ticket_referral_event_id_ticket_event")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"],
            name=op.f("fk_ticket_referral_actor_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_referral")),
        sa.UniqueConstraint(
            "ticket_id", "from_agency_id", name=op.f("uq_ticket_referral_ticket_id_from_agency_id")
        ),
    )
    with op.batch_alter_table("ticket_referral") as batch_op:
        batch_op.create_index(
            "ix_ticket_referral_from_agency", ["from_agency_id", "created_at"], unique=False
        )

    op.create_table(
        "ticket_follower",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("follower_ticket_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_follower_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["follower_ticket_id"], ["ticket.id"],
            name=op.f("fk_ticket_follower_follower_ticket_id_ticket"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_follower")),
        sa.UniqueConstraint(
            "ticket_id", "follower_ticket_id",
            name=op.f("uq_ticket_follower_ticket_id_follower_ticket_id"),
        ),
    )
    with op.batch_alter_table("ticket_follower") as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_follower_ticket_id"), ["ticket_id"])
        batch_op.create_index(
            batch_op.f("ix_ticket_follower_follower_ticket_id"), ["follower_ticket_id"]
        )

    op.create_table(
        "ticket_split",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["ticket.id"], name=op.f("fk_ticket_split_child_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["ticket.id"], name=op.f("fk_ticket_split_parent_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_ticket_split_actor_id_user_account")
        ),
        sa.PrimaryKeyConstraint("child_id", name=op.f("pk_ticket_split")),
    )
    with op.batch_alter_table("ticket_split") as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_split_parent_id"), ["parent_id"])

    op.create_table(
        "ticket_search",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_search_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_search")),
    )

    # Plain CREATE INDEX (no batch copy): SQLite creates indexes in place, expressions included.
    op.create_index(
        "ix_ticket_queue_due", "ticket",
        ["agency_id", "status", sa.text("coalesce(resolution_due, acceptance_due)"), "id"],
    )
    op.create_index("ix_ticket_agency_received", "ticket", ["agency_id", "received_at"])
    op.create_index("ix_ticket_assignee_status", "ticket", ["assignee_id", "status"])
    op.create_index("ix_ticket_duplicate_of_id", "ticket", ["duplicate_of_id"])

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in PG_SEARCH_UP:
            op.execute(statement)
    else:
        backfill_search_text(bind)


def backfill_search_text(bind):
    """Fold the tickets already there (the same text intake keeps for new ones)."""
    from service.domain.search import document_text

    ticket = sa.table(
        "ticket", sa.column("id"), sa.column("code"), sa.column("title"),
        sa.column("description"), sa.column("address"),
    )
    search = sa.table("ticket_search", sa.column("ticket_id"), sa.column("text"))
    rows = bind.execute(
        sa.select(ticket.c.id, ticket.c.code, ticket.c.title, ticket.c.description,
                  ticket.c.address)
    ).all()
    if rows:
        op.bulk_insert(search, [
            {"ticket_id": r.id, "text": document_text(r.code, r.title, r.description, r.address)}
            for r in rows
        ])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_SEARCH_DOWN:
            op.execute(statement)
    for name in ("ix_ticket_duplicate_of_id", "ix_ticket_assignee_status",
                 "ix_ticket_agency_received", "ix_ticket_queue_due"):
        op.drop_index(name, table_name="ticket")
    op.drop_table("ticket_search")
    op.drop_table("ticket_split")
    op.drop_table("ticket_follower")
    op.drop_table("ticket_referral")
    op.drop_table("assignment_policy")
    op.drop_table("response_template")
