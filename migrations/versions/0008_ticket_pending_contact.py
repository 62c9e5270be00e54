"""ticket.pending_contact: contact snapshot the route job turns into a citizen

Revision ID: 0008
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.add_column(sa.Column("pending_contact", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("ticket") as batch_op:
        batch_op.drop_column("pending_contact")
