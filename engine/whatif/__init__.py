"""What-if scenarios: changes applied through an overlay, baseline vs scenario comparisons."""
