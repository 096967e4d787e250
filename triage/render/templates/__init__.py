"""Jinja2 templates for the HTML report (package data)."""
