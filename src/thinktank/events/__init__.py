"""Event delivery: engine events, numbered per conversation, fanned out to live subscribers."""
