"""merge the feature branches (each feature's migration started from 0001)

Revision ID: 0099
Revises: 0002, 0003, 0004, 0005, 0007, 0008, 0010
"""

revision = "0099"
down_revision = ("0002", "0003", "0004", "0005", "0007", "0008", "0010")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
