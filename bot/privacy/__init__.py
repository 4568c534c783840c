"""Families' data: what we keep, for how long, and how a family sees or deletes it."""
