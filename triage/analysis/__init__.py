"""The analysis stage: classify stored events with a rule table, and what follows from it.

Reports, diffs between two tables, rule lint, polling bursts and the --fail-on memory.
"""
