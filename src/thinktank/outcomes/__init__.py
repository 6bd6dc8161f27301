"""What a discussion produces: the decision memo (forks and reruns come later)."""
