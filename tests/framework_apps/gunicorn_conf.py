"""gunicorn settings for the tests: with PYARTHAS_WORKER_AGENTS=1 every worker starts its own agent on a free
port right after the fork (gunicorn's post_fork hook), and prints where it serves."""
import os


def post_fork(server, worker):
    if os.environ.get("PYARTHAS_WORKER_AGENTS") == "1":
        import pyarthas
        pyarthas.start(port=0, telnet_port=-1)
