"""Runs INSIDE the target, in its own interpreter (CPython 3.9 to 3.14), executed from source by
``pyarthas attach`` (ptrace injection, ``sys.remote_exec`` or the armed signal handler) with a fresh
globals dict holding ``ARGS``:

    agent_dir  pyarthas's agent package folder (loaded from there: nothing needs installing in the target)
    package    the private name to load it under (``_pyarthas_agent_<hash>``), so ``pyarthas`` never appears
               in the target's ``sys.modules`` and nothing of ours can collide with the target's imports
    ip, port   where the agent should serve
    reply      a FIFO the CLI reads one JSON line from: {"status": "started" | "running" | "port-in-use" |
               "error", "url", "pid", "message"}

Stdlib only, never raises (an exception here would surface in the target's code), and does the slow part
(importing and starting the agent) on a thread of its own so the interrupted thread resumes at once.
"""


def _bootstrap(args):
    import os
    import sys

    def reply(status, url=None, message=None):
        import json
        line = json.dumps({"status": status, "url": url, "pid": os.getpid(), "message": message}) + "\n"
        try:  # non-blocking: if the CLI is gone (ENXIO) nobody is waiting, and we must not block
            fd = os.open(args["reply"], os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            os.write(fd, line.encode("utf-8"))
        except OSError:
            pass
        finally:
            os.close(fd)

    def running_agent():
        for name in (args["package"], "pyarthas.agent"):
            module = sys.modules.get(name)
            current = getattr(module, "current", None)
            agent = current() if current is not None else None
            if agent is not None:
                return agent
        return None

    def load_agent_package():
        module = sys.modules.get(args["package"])
        if module is not None:
            return module  # loaded by an earlier attach, then stopped: start it again
        import importlib.util
        init = os.path.join(args["agent_dir"], "__init__.py")
        spec = importlib.util.spec_from_file_location(args["package"], init,
                                                      submodule_search_locations=[args["agent_dir"]])
        module = importlib.util.module_from_spec(spec)
        sys.modules[args["package"]] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(args["package"], None)
            raise
        return module

    def start():
        try:
            agent = running_agent()
            if agent is not None:
                reply("running", agent.url)
                return
            agent = load_agent_package().start(ip=args["ip"], port=args["port"], quiet=True)
            reply("started", agent.url)
        except OSError as exc:
            import errno
            if exc.errno == errno.EADDRINUSE:
                reply("port-in-use", message="%s:%s: %s" % (args["ip"], args["port"], exc.strerror))
            else:
                reply("error", message=repr(exc))
        except BaseException as exc:  # noqa: B036 - nothing of ours may reach the target's code
            reply("error", message=repr(exc))

    agent = running_agent()
    if agent is not None:
        reply("running", agent.url)
        return
    import threading
    threading.Thread(target=start, name="pyarthas-attach", daemon=True).start()


try:
    _bootstrap(ARGS)  # noqa: F821 - given by the injector
except BaseException:  # noqa: B036 - never let anything escape into the target
    pass
