"""Runs INSIDE the target, in its own interpreter (CPython 3.9 to 3.14), executed from source by
``pyarthas attach`` (ptrace injection, ``sys.remote_exec`` or the armed signal handler) with a fresh
globals dict holding ``ARGS``:

    agent_dir  pyarthas's agent package folder (loaded from there: nothing needs installing in the target)
    package    the private name to load it under (``_pyarthas_agent_<hash>``), so ``pyarthas`` never appears
               in the target's ``sys.modules`` and nothing of ours can collide with the target's imports
    ip, port   where the agent should serve
    username, password  HTTP Basic credentials (None: the agent's defaults, PYARTHAS_PASSWORD in the target
               or, bound beyond loopback, a generated password that the reply carries)
    bundle     a file holding every module of the agent (see _AgentFinder)
    cache      the file to keep the agent's compiled modules in for the next attach (None: nowhere)
    reply      a FIFO the CLI reads JSON lines from: {"status": "accepted"} as soon as this runs, then
               {"status": "started" | "running" | "port-in-use" | "error", "url", "pid", "message"}

Stdlib only, never raises (an exception here would surface in the target's code), and does the slow part
(importing and starting the agent) on a thread of its own so the interrupted thread resumes at once.
"""

LOADING_SWITCH_INTERVAL = 0.0005


def _bootstrap(args):
    import os
    import sys

    def reply(status, url=None, message=None, **more):
        import json
        line = json.dumps(dict(more, status=status, url=url, pid=os.getpid(), message=message)) + "\n"
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
        """Ours, another install's (``_pyarthas_agent_*``) or one the program started itself."""
        names = [name for name in list(sys.modules)
                 if name == "pyarthas.agent" or (name.startswith("_pyarthas_agent_") and "." not in name)]
        for name in names:
            current = getattr(sys.modules.get(name), "current", None)
            agent = current() if current is not None else None
            if agent is not None:
                return agent
        return None

    def load_agent_package():
        module = sys.modules.get(args["package"])
        if module is not None:
            return module  # loaded by an earlier attach, then stopped: start it again
        import importlib
        return importlib.import_module(args["package"])

    def forget_agent_package():
        """After a failed load, so that the next attach imports afresh rather than from broken pieces."""
        prefix = args["package"] + "."
        for name in [name for name in list(sys.modules) if name == args["package"] or name.startswith(prefix)]:
            sys.modules.pop(name, None)

    def start():
        try:
            agent = running_agent()
            if agent is not None:
                reply("running", agent.url)
                return
            finder = _AgentFinder(args)
            sys.meta_path.insert(0, finder)
            # The loading thread gives the GIL away at every system call (stdlib imports, thread starts) and
            # in a busy target waits a whole switch interval (5 ms) to get it back: shorten that while
            # loading, about 0.3 s, which halves the time to start (and shortens each pause of the program).
            interval = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, LOADING_SWITCH_INTERVAL))
            try:
                agent = load_agent_package().start(ip=args["ip"], port=args["port"], quiet=True,
                                                   password=args.get("password"), username=args.get("username"),
                                                   **(args.get("access") or {}))
            finally:
                sys.setswitchinterval(interval)
                sys.meta_path.remove(finder)  # later imports go through the package's __path__ as usual
            shown = {"notes": list(getattr(agent, "port_notes", []))}  # the CLI shows these (the FIFO is private)
            if getattr(agent, "generated_password", False):
                shown.update(username=agent.username, password=agent.password)
            if getattr(agent, "token_path", None):
                shown.update(token=agent.token, token_path=agent.token_path)
            reply("started", agent.url, **shown)
            finder.cache_compiled()
        except OSError as exc:
            import errno
            if exc.errno == errno.EADDRINUSE:
                reply("port-in-use", message="%s:%s: %s" % (args["ip"], args["port"], exc.strerror))
            else:
                reply("error", message=repr(exc))
        except BaseException as exc:  # nothing of ours may reach the target's code
            if running_agent() is None:
                forget_agent_package()
            reply("error", message=repr(exc))

    agent = running_agent()
    if agent is not None:
        reply("running", agent.url)
        return
    reply("accepted")
    import threading
    threading.Thread(target=start, name="pyarthas-attach", daemon=True).start()


class _AgentFinder:
    """Serves the agent's modules from the bundle the CLI wrote (``ARGS["bundle"]``: marshal'd {relative name:
    (path, is_package, source, cached code or None)}) under the private package name. One file read instead
    of several GIL-releasing system calls per module: in a busy target each of those waits a full switch
    interval for the GIL, which made loading from files take about a second."""

    def __init__(self, args):
        import marshal
        with open(args["bundle"], "rb") as handle:
            bundle = marshal.loads(handle.read())
        self.prefix = args["package"] + "."
        self.modules = {(self.prefix + name) if name else args["package"]: entry for name, entry in bundle.items()}
        self.cache_file = args.get("cache")
        self.loaded = {}     # relative name -> MAGIC + marshal'd code, for the cache
        self.compiled = False

    def find_spec(self, name, path=None, target=None):
        entry = self.modules.get(name)
        if entry is None:
            return None
        import importlib.util
        origin, is_package = entry[0], entry[1]
        spec = importlib.util.spec_from_loader(name, self, origin=origin, is_package=is_package)
        spec.has_location = True  # __file__ is the real path (the agent finds its static files from it)
        if is_package:
            spec.submodule_search_locations = [__import__("os").path.dirname(origin)]
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self._code(module.__spec__.name), module.__dict__)

    def _code(self, name):
        import importlib.util
        import marshal
        path, _, source, cached = self.modules[name]
        relative = name[len(self.prefix):] if name.startswith(self.prefix) else ""
        if cached is not None and cached[:4] == importlib.util.MAGIC_NUMBER:
            self.loaded[relative] = cached
            return marshal.loads(cached[4:])
        code = compile(source, path, "exec", dont_inherit=True)
        self.loaded[relative] = importlib.util.MAGIC_NUMBER + marshal.dumps(code)
        self.compiled = True
        return code

    def cache_compiled(self):
        """Keep the modules' code in pyarthas's own cache file (``ARGS["cache"]``, named after the agent's
        sources and this interpreter version; never the install's __pycache__), so the next attach to this
        version loads instead of compiling: compiling a large module holds the GIL for tens of ms. Runs
        after the agent answered; one file, written whole."""
        if not self.cache_file or not self.compiled:
            return
        import marshal
        import os
        temporary = "%s.%d.tmp" % (self.cache_file, os.getpid())
        try:
            with open(temporary, "wb") as handle:
                handle.write(marshal.dumps(self.loaded))
            os.replace(temporary, self.cache_file)
        except OSError:
            pass


try:
    _bootstrap(ARGS)  # noqa: F821 - given by the injector
except BaseException:  # never let anything escape into the target
    pass
