"""Field mappings as data: a registry of named, typed transforms (no user code ever runs),
mapping sets that compile into a fast mapper, required-field checks, and the approval gate
for outgoing writes. Seed: integration-status-tracker (A1–A9, "HIL for every message")."""
