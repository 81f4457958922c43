"""Billing: drafts, bill runs, delayed charges, manual invoices, the invoice lifecycle and its storage."""
