"""DRF views of ShopBoss projects: validate, call a service or selector, serialize."""
