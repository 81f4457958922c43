"""Billsim's operations as MCP tools: over stdio (`billsim mcp --business B`) and over streamable HTTP at /mcp of
the server; adapters over the application layer (engine.service), like the HTTP API."""
