"""The verdict a group gets, and the share that decides it: kept apart from the report's pandas
code so the command line can show the default without importing it."""

# A group is `downgrade` when at least this share of its error events leaves error volume.
DEFAULT_THRESHOLD = 0.95
