"""Versions of what the database stores that are not its schema.

``GROUPING_VERSION``: how the computed group keys of ``events`` were made (recorded per event in
``events.grouping_version``, per file in ``ingest_log``, per database in ``triage_meta``, and per
``--fail-on`` memory in ``job_findings``). 1: a hash of exception type, masked text and culprit;
2: Sentry's grouping (``queries/grouping.sql``, docs/grouping.md). Keys of two versions are not
compared as the same group.
"""

GROUPING_VERSION = 2
