"""The API's routes, one module per resource (spec section 9)."""
