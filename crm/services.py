"""Writes of CRM sync: `<entity>_<verb>` functions with keyword-only arguments."""
