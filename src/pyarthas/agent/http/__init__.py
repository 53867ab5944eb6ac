"""The HTTP server: routing, Origin/Host checks, body limits, static files."""
