"""Writes of ShopBoss projects: `<entity>_<verb>` functions with keyword-only arguments."""
