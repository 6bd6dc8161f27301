"""Resilience as wrappers around any model: retry, circuit breaker, fallback (seed §5)."""
