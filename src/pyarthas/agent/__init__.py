"""The pyarthas agent: the part that runs inside the target process.

Rules for everything under this package: stdlib only, CPython 3.9+, relative imports only (``attach``
loads this package under a private name, so ``import pyarthas`` must never appear here), every thread a
daemon started through ``util.threads.spawn``, every queue bounded, no exception of ours reaches the
target's code.
"""
import sys
import threading

VERSION = "0.1.0"

_lock = threading.Lock()
_agent = None


def start(ip: str = "127.0.0.1", port: int = 8563, output_dir: str = None, quiet: bool = False,
          password: str = None, username: str = None, telnet_port: int = 3658):
    """Start the agent (once per process) and return it; prints the URL it serves on stderr.
    ``telnet_port``: the shell on telnet (Arthas's 3658; 0 picks a free port, -1 turns telnet off)."""
    global _agent
    with _lock:
        if _agent is not None and not _agent.stopped:
            return _agent
        from .runtime import Agent
        agent = Agent(ip=ip, port=port, output_dir=output_dir, password=password, username=username,
                      telnet_port=telnet_port).start()
        _agent = agent
    if not quiet:
        sys.stderr.write("pyarthas agent %s serving %s/api (pid %d)\n" % (VERSION, agent.url, agent.pid))
        if agent.telnet_port is not None:
            sys.stderr.write("pyarthas shell: telnet %s %d, or ws://%s/ws\n"
                             % (agent.ip, agent.telnet_port, agent.url.split("//", 1)[1]))
        elif agent.telnet_error:
            sys.stderr.write("pyarthas: no telnet shell (%s); the shell is at ws://%s/ws\n"
                             % (agent.telnet_error, agent.url.split("//", 1)[1]))
        if agent.generated_password:
            sys.stderr.write("pyarthas: bound beyond loopback; using generated password for user %s: %s\n"
                             % (agent.username, agent.password))
        sys.stderr.flush()
    return agent


def stop() -> None:
    agent = _agent
    if agent is not None:
        agent.stop()


def current():
    """The running agent, or None."""
    agent = _agent
    return agent if agent is not None and not agent.stopped else None


def _forget_agent(agent) -> None:
    global _agent
    with _lock:
        if _agent is agent:
            _agent = None
