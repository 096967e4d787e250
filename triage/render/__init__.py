"""The render stage: terminal tables, the HTML report and ingest progress."""
