"""DRF views of CRM sync: validate, call a service or selector, serialize."""
