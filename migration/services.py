"""Writes of Project migration: `<entity>_<verb>` functions with keyword-only arguments."""
