"""Writes of TimeTracker: `<entity>_<verb>` functions with keyword-only arguments."""
