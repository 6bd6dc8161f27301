"""The conversation engine: takes turns, streams events, keeps the books. No HTTP, no SQL."""
