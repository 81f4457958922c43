"""Who may call the service: API tokens and the stored answers of idempotent requests."""
