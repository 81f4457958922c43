"""Billsim as a service (spec section 9): the HTTP API, the MCP server and their API tokens."""
