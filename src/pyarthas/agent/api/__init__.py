"""Arthas's HTTP API actions."""
