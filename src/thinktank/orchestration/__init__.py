"""Who speaks next: scorers and the turn decision (seed §3)."""
