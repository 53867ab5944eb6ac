"""Arthas's tunnel protocol, agent side (``client.TunnelClient``): the agent dials out to an Arthas tunnel
server so that users behind it reach the agent's shell and HTTP API."""
