"""Rating: billing cycles, target cycles, usage aggregation, pricing models and the set-based pipeline."""
