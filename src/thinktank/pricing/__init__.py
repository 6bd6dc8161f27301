"""Prices: raw provider cost from genai-prices, billed cost with our markup, always Decimal."""
