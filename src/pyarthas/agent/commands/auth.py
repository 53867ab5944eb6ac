"""``auth``: authenticate the current session, as Arthas's AuthCommand.

When the agent has a password (or requires its token), a session that has not authenticated may run only
``auth`` (the job layer refuses the rest with Arthas's "command not permitted" text). Sessions opened
through the HTTP API or ``/ws`` are authenticated by the HTTP door (Basic credentials, ``?password=``, a
local connection while ``localConnectionNonAuth``), as Arthas's BasicHttpAuthenticatorHandler does; a
telnet shell from another address starts locked and ``auth PASSWORD`` unlocks it.
"""
from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option

DEFAULT_USERNAME = "arthas"


@register
class AuthCommand(Command):
    name = "auth"
    summary = "Authenticates the current session"
    description = "Examples:\n  auth\n  auth <password>\n  auth --username <username> <password>"
    options = [Option("username", "n", default=DEFAULT_USERNAME, help="username, default value 'arthas'")]
    arguments = [Argument("password", help="password")]

    def run(self, process, args):
        session = process.session
        policy = process.agent.access
        if not args.username:
            raise CommandError(1, "username can not be empty!")
        if args.password is None:
            authenticated = bool(getattr(session, "authenticated", True))
            message = "Authentication result: %s, Need authentication: %s" % (
                _text(authenticated), _text(policy.login_required))
            process.end(1 if policy.login_required and not authenticated else 0, message)
            return
        if not policy.check_password(args.username, args.password):
            raise CommandError(1, "Authentication result: false, username: %s" % args.username)
        session.authenticated = True
        process.end(0, "Authentication result: true, username: %s" % args.username)


def _text(value: bool) -> str:
    return "true" if value else "false"
