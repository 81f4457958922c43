"""Reading data in: the all-or-nothing importer, its per-table rules, the demo generator."""
