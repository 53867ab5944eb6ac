"""The agent's own shell: Arthas's terminal, drawn inside the agent, over telnet and WebSocket.

- ``session.ShellSession``: one shell per connection (prompt, editing, history, completion, job control,
  pipes, redirects), a client of the API's actions like any other.
- ``telnet``: the telnet server (port 3658 by default, Arthas's), with option negotiation.
- ``websocket``: ``/ws`` on the HTTP port, Arthas's web console protocol (JSON ``read``/``resize``
  frames in, raw terminal text out), RFC 6455 on the stdlib.
- ``access``: who may open a terminal (the telnet password prompt; ``/ws`` passes the HTTP checks first).

``Terminals`` counts the open terminals of an agent: at most ``PYARTHAS_MAX_TERMINALS`` (default 64) at
once; one more is told so and closed.
"""
import os
import threading

DEFAULT_MAX_TERMINALS = 64


def max_terminals() -> int:
    try:
        return max(1, int(os.environ.get("PYARTHAS_MAX_TERMINALS", DEFAULT_MAX_TERMINALS)))
    except ValueError:
        return DEFAULT_MAX_TERMINALS


class Terminals:
    """The open terminals of one agent."""

    def __init__(self, agent):
        self.agent = agent
        self.limit = max_terminals()
        self._count = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self._count >= self.limit:
                return False
            self._count += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._count -= 1

    @property
    def count(self) -> int:
        return self._count

    def refusal(self) -> str:
        return "too many terminals are open (%d), close one and try again.\n" % self.limit

    def serve(self, terminal, read_loop, locked: bool = False) -> None:
        """Run one terminal to its end on the calling thread: a shell session fed by ``read_loop(shell)``
        (the transport's reader, which returns when the client is gone). ``locked``: the client has not
        proved who it is (telnet from another address while the agent has a password): its session may run
        only ``auth`` until that succeeds, as Arthas's."""
        from .session import ShellSession
        if not self.acquire():
            terminal.close(self.refusal())
            return
        shell = None
        try:
            shell = ShellSession(self.agent, terminal, locked)
            if shell.open():
                read_loop(shell)
        finally:
            if shell is not None:
                shell.close()
            self.release()


def terminals_of(agent) -> Terminals:
    """The agent's ``Terminals`` (made on first use: no cost for agents nobody opens a shell on)."""
    found = getattr(agent, "_terminals", None)
    if found is None:
        with _create_lock:
            found = getattr(agent, "_terminals", None)
            if found is None:
                found = agent._terminals = Terminals(agent)
    return found


_create_lock = threading.Lock()

__all__ = ["Terminals", "terminals_of", "max_terminals"]
