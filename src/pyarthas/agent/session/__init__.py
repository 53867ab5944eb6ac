"""Sessions, consumers, result distribution and long polling."""
