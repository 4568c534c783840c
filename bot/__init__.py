"""Homeroom: a chat bot that lets a school talk with its families in their own apps and languages."""

__version__ = "0.1.0"
