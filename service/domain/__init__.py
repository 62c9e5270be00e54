"""Business rules with no Flask import: intake, lifecycle, deadlines, routing, notices."""
