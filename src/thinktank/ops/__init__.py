"""Operating ThinkTank: structured logs, Prometheus metrics, Sentry, environment profiles."""
