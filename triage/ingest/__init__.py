"""The ingest stage: every shape of Sentry export (files, stdin, web API) into the events table."""
