"""The basic commands: version, help, session, echo, pwd, history, quit, sysenv, sysprop, options, stop."""
import dataclasses
import os
import platform
import sys
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register, register_refusal, registered
from ..command.help import HelpModel, command_summary, help_detail
from ..command.options import Argument, Option
from ..model import EnhancerAffect, MessageModel, ResultModel
from ..values import secrets
from ..values.limits import MASKED


@dataclasses.dataclass
class VersionModel(ResultModel):
    type: ClassVar[str] = "version"
    version: str = ""


@register
class VersionCommand(Command):
    name = "version"
    summary = "Display pyarthas version"

    def run(self, process, args):
        process.emit(VersionModel(version=process.agent.version))


# ---- help ----

@register
class HelpCommand(Command):
    name = "help"
    summary = "Display pyarthas command help"
    arguments = [Argument("command-name", help="the command to describe")]

    def run(self, process, args):
        commands = registered()
        if args.command_name:
            cls = commands.get(args.command_name)
            if cls is None:
                raise CommandError(-1, "Not available command: %s" % args.command_name)
            process.emit(help_detail(cls))
            return
        unique = sorted({cls for cls in commands.values() if not cls.hidden}, key=lambda c: c.name)
        process.emit(HelpModel(commands=[command_summary(cls) for cls in unique]))


# ---- session ----

@dataclasses.dataclass
class SessionModel(ResultModel):
    type: ClassVar[str] = "session"
    javaPid: int = 0
    sessionId: str = ""
    userId: Optional[str] = None
    # As Arthas's session shows its tunnel: the agent's id there, the tunnel server (or the fleet's Redis,
    # without its password), and whether the link is up now.
    agentId: Optional[str] = None
    tunnelServer: Optional[str] = None
    tunnelConnected: bool = False


@register
class SessionCommand(Command):
    name = "session"
    summary = "Display current session information"

    def run(self, process, args):
        session = process.session
        model = SessionModel(javaPid=session.pid, sessionId=session.session_id, userId=session.user_id)
        tunnel = getattr(process.agent, "tunnel", None)
        fleet = getattr(process.agent, "fleet", None)
        if tunnel is not None:   # Arthas's own tunnel server first: what its users expect to see here
            model.agentId, model.tunnelServer = tunnel.id, tunnel.server_url
            model.tunnelConnected = tunnel.registered.is_set()
        elif fleet is not None:
            model.agentId, model.tunnelServer, model.tunnelConnected = fleet.agent_id, fleet.server, fleet.connected
        process.emit(model)


# ---- echo, pwd, history ----

@dataclasses.dataclass
class EchoModel(ResultModel):
    type: ClassVar[str] = "echo"
    content: str = ""


@register
class EchoCommand(Command):
    name = "echo"
    summary = "Write arguments to the standard output"
    arguments = [Argument("message", multi=True, help="the words to echo")]

    def run(self, process, args):
        process.emit(EchoModel(content=" ".join(args.message)))


@dataclasses.dataclass
class PwdModel(ResultModel):
    type: ClassVar[str] = "pwd"
    workingDir: str = ""


@register
class PwdCommand(Command):
    name = "pwd"
    summary = "Return the target's working directory"

    def run(self, process, args):
        process.emit(PwdModel(workingDir=os.getcwd()))


@dataclasses.dataclass
class HistoryModel(ResultModel):
    type: ClassVar[str] = "history"
    history: List[str] = dataclasses.field(default_factory=list)


@register
class HistoryCommand(Command):
    name = "history"
    summary = "Display command history"
    description = "Examples:\n  history\n  history -c\n  history 5"
    options = [Option("clear", "c", flag=True, help="clear history"),
               Option("number", "n", type=int, help="the same as the argument n")]
    arguments = [Argument("n", type=int, help="how many history commands to display")]

    def run(self, process, args):
        history = process.agent.history
        if args.clear:
            history.clear()
            return
        lines = list(history)
        count = args.n if args.n is not None else args.number
        if count is not None and 0 <= count < len(lines):  # Arthas: a negative N shows them all
            lines = lines[len(lines) - count:]
        process.emit(HistoryModel(history=lines))


# quit/exit/logout are the shell's own (they leave the terminal; ``stop`` stops the agent)
register_refusal("quit", "quit and exit leave a shell (telnet, the web console); an API client ends its session "
                         "with the close_session action.", aliases=("exit", "logout"),
                 summary="Leave the current shell (telnet, web console); the agent keeps running (use stop to stop it)")


# ---- sysenv, sysprop ----

@dataclasses.dataclass
class SystemEnvModel(ResultModel):
    type: ClassVar[str] = "sysenv"
    env: Dict[str, Optional[str]] = dataclasses.field(default_factory=dict)


@register
class SysEnvCommand(Command):
    name = "sysenv"
    summary = "Display the environment variables of the target process"
    description = ("Values of variables whose names look like credentials (*PASSWORD*, *SECRET*, *TOKEN*, "
                   "*KEY*...) are masked unless `options mask-secrets false`.")
    arguments = [Argument("env-name", help="one variable")]

    def run(self, process, args):
        if args.env_name:
            env = {args.env_name: os.environ.get(args.env_name)}
        else:
            env = dict(sorted(os.environ.items()))
        if secrets.masking():
            env = {name: MASKED if value is not None and secrets.looks_secret(name) else value
                   for name, value in env.items()}
        process.emit(SystemEnvModel(env=env))


@dataclasses.dataclass
class SystemPropertyModel(ResultModel):
    type: ClassVar[str] = "sysprop"
    props: Dict[str, str] = dataclasses.field(default_factory=dict)


def interpreter_properties() -> Dict[str, str]:
    """Python's counterpart of Java's system properties: facts about the interpreter and platform."""
    impl = sys.implementation
    props = {
        "python.version": platform.python_version(),
        "python.implementation": platform.python_implementation(),
        "python.compiler": platform.python_compiler(),
        "python.build": " ".join(platform.python_build()),
        "python.executable": sys.executable,
        "python.prefix": sys.prefix,
        "python.base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "python.path": os.pathsep.join(p for p in sys.path if isinstance(p, str)),
        "python.cache_tag": str(impl.cache_tag),
        "python.gil_enabled": str(getattr(sys, "_is_gil_enabled", lambda: True)()).lower(),
        "sys.platform": sys.platform,
        "sys.byteorder": sys.byteorder,
        "sys.maxsize": str(sys.maxsize),
        "sys.argv": " ".join(sys.argv),
        "sys.flags": repr(sys.flags),
        "file.encoding": sys.getfilesystemencoding(),
        "stdout.encoding": str(getattr(sys.stdout, "encoding", None)),
        "os.name": platform.system(),
        "os.version": platform.release(),
        "os.arch": platform.machine(),
        "line.separator": os.linesep.encode("unicode_escape").decode(),
        "file.separator": os.sep,
        "path.separator": os.pathsep,
        "user.dir": os.getcwd(),
        "user.home": os.path.expanduser("~"),
        "user.name": _user_name(),
    }
    return dict(sorted(props.items()))


def _user_name() -> str:
    try:
        import getpass
        return getpass.getuser()
    except Exception:
        return ""


@register
class SysPropCommand(Command):
    name = "sysprop"
    summary = "Display the interpreter's properties (sys, platform)"
    description = ("Python has no mutable system properties: sysprop shows facts about the interpreter; "
                   "use vmoption to change the interpreter's tunables.")
    arguments = [Argument("property-name"), Argument("property-value")]

    def run(self, process, args):
        props = interpreter_properties()
        if args.property_value is not None:
            raise CommandError(-1, "Python has no system properties to change; use vmoption to change the "
                                   "interpreter's tunables.")
        if args.property_name:
            if args.property_name not in props:
                raise CommandError(1, "There is no property with the key %s" % args.property_name)
            props = {args.property_name: props[args.property_name]}
        process.emit(SystemPropertyModel(props=props))


# ---- options ----

@dataclasses.dataclass
class OptionsModel(ResultModel):
    type: ClassVar[str] = "options"
    options: Optional[List[Dict[str, Any]]] = None
    changeResult: Optional[Dict[str, Any]] = None


@register
class OptionsCommand(Command):
    name = "options"
    summary = "View and change the agent's global options"
    arguments = [Argument("options-name"), Argument("options-value")]

    def run(self, process, args):
        store = process.agent.options
        if args.options_name is None:
            process.emit(OptionsModel(options=[o.to_json() for o in store.all()]))
            return
        option = store.find(args.options_name)
        if option is None:
            raise CommandError(-1, "options[%s] not found." % args.options_name)
        if args.options_value is None:
            process.emit(OptionsModel(options=[option.to_json()]))
            return
        try:
            before, after = store.set(args.options_name, args.options_value)
        except ValueError:
            raise CommandError(-1, "Cannot cast option value[%s] to type[%s]."
                               % (args.options_value, option.to_json()["type"])) from None
        # typed, as Arthas sends them (a boolean option's values are JSON booleans)
        process.emit(OptionsModel(changeResult={"name": option.name, "beforeValue": before, "afterValue": after}))


# ---- stop ----

@dataclasses.dataclass
class ResetModel(ResultModel):
    type: ClassVar[str] = "reset"
    affect: Optional[EnhancerAffect] = None


@dataclasses.dataclass
class ShutdownModel(ResultModel):
    type: ClassVar[str] = "shutdown"
    graceful: bool = True
    message: str = "Arthas Server is going to shutdown..."


@register
class StopCommand(Command):
    name = "stop"
    aliases = ("shutdown",)
    summary = "Stop the agent: restore every enhanced function, close every session; the program carries on"

    def run(self, process, args):
        agent = process.agent
        process.emit(MessageModel(message="Resetting all enhanced classes ..."))
        engine = agent.engine_if_started
        affect = engine.reset_all() if engine is not None else EnhancerAffect(cost=0, listenerId=0)
        process.emit(ResetModel(affect=affect))
        process.emit(ShutdownModel())
        process.on_end(lambda: agent.request_stop(process))
