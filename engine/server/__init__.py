"""ONE server process that holds the database: the workbench, the HTTP API and MCP over one connection, and the
command line beside it through a control socket."""
