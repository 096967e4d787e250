"""The verdict a group gets, and the share that decides it: kept apart from the report's pandas
code so the command line can show the default without importing it."""

# A group is `downgrade` when at least this share of its error events leaves error volume.
DEFAULT_THRESHOLD = 0.95


def check_threshold(threshold: float) -> None:
    """A share between 0 and 1; NaN (which every comparison lets through) is refused."""
    if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"threshold {threshold!r} is not a share between 0 and 1")


VERDICTS = ("downgrade", "partial", "unchanged")
# --sort NAME -> (column, ascending). `saved` is the report's own order: most error volume
# leaving first.
SORT_KEYS = {
    "saved": ("leaving_events", False),
    "events": ("events", False),
    "users": ("users", False),
    "share": ("reclassified_share", False),
    "last-seen": ("last_seen", False),
    "first-seen": ("first_seen", True),
    "group": ("group", True),
    "title": ("title", True),
}
