"""The ends a person touches: the ledger export, the command line, the workbench's read queries."""
