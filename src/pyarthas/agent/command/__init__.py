"""The command framework: tokenizer, declarative options, the Command base and its registry."""
