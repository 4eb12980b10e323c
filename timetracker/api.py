"""DRF views of TimeTracker: validate, call a service or selector, serialize."""
