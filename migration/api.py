"""DRF views of Project migration: validate, call a service or selector, serialize."""
