"""Telling people: Slack and webhook sinks, dedup, and the spool that loses nothing."""
