"""email intake: IMAP receipts and per-mail outcomes

Revision ID: 0005
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "email_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_id"], ["inbound_message.id"],
            name=op.f("fk_email_receipt_inbound_id_inbound_message"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_receipt")),
        sa.UniqueConstraint(
            "mailbox", "uidvalidity", "uid", name=op.f("uq_email_receipt_mailbox_uidvalidity_uid")
        ),
    )
    with op.batch_alter_table("email_receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_receipt_message_key"), ["message_key"])
        batch_op.create_index(batch_op.f("ix_email_receipt_inbound_id"), ["inbound_id"])

    op.create_table(
        "inbound_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("sender", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_id"], ["inbound_message.id"],
            name=op.f("fk_inbound_email_inbound_id_inbound_message"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_inbound_email_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["ticket_event.id"], name=op.f("fk_inbound_email_event_id_ticket_event")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["delivery.id"], name=op.f("fk_inbound_email_delivery_id_delivery")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_email")),
        sa.UniqueConstraint("inbound_id", name=op.f("uq_inbound_email_inbound_id")),
        sa.UniqueConstraint("message_key", name=op.f("uq_inbound_email_message_key")),
    )
    with op.batch_alter_table("inbound_email", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_email_ticket_id"), ["ticket_id"])


def downgrade():
    with op.batch_alter_table("inbound_email", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_email_ticket_id"))
    op.drop_table("inbound_email")
    with op.batch_alter_table("email_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_receipt_inbound_id"))
        batch_op.drop_index(batch_op.f("ix_email_receipt_message_key"))
    op.drop_table("email_receipt")
