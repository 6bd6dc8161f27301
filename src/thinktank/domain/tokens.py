"""Counting tokens without a tokenizer: the one documented approximation every layer shares."""


def approximate_tokens(text: str) -> int:
    """Documented approximation for models without a tokenizer of their own: ~4 characters a token."""
    return (len(text) + 3) // 4 if text else 0
