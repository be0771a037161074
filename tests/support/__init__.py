"""Reusable test support (fixtures, fake servers); importable as ``support``."""
