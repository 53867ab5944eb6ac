"""Commands that belong to a terminal, as Arthas's: ``grep`` and ``tee`` (stages after ``|``), ``cls``,
``keymap`` and the job control ``jobs``/``fg``/``bg``/``kill`` (done by the shell itself). Run as a command
outside a terminal each refuses with Arthas's sentence (or one of ours, for the job control); grep's and
tee's options are declared here once, for ``help`` and for the pipe stages that parse them (``job/pipes.py``).
"""
from ..command.base import register_refusal
from ..command.options import Argument, Option, to_bool

GREP_OPTIONS = [
    Option("regex", "e", flag=True, help="Enable regular expression to match"),
    Option("ignore-case", "i", flag=True, help="Perform case insensitive matching.  By default, grep is case "
                                               "sensitive."),
    Option("invert-match", "v", flag=True, help="Select non-matching lines"),
    Option("line-number", "n", flag=True, help="Print line number with output lines"),
    Option("count", "c", flag=True, help="Print only a count of selected lines"),
    Option("trim-end", type=to_bool, default=True,
           help="Remove whitespaces at the end of the line, default value true"),
    Option("before-context", "B", type=int, default=0, help="Print NUM lines of leading context)"),
    Option("after-context", "A", type=int, default=0, help="Print NUM lines of trailing context)"),
    Option("context", "C", type=int, default=0, help="Print NUM lines of output context)"),
    Option("max-count", "m", type=int, default=0, help="stop after NUM selected lines)"),
]
GREP_ARGUMENTS = [Argument("pattern", required=True, help="Pattern")]

TEE_OPTIONS = [Option("append", "a", flag=True, help="Append to file")]
TEE_ARGUMENTS = [Argument("file", help="File path")]


register_refusal(
    "grep", "The grep command only for pipes. See 'grep --help'\n", summary="grep command for pipes.",
    description=("Examples:\n sysprop | grep java \n sysprop | grep java -n\n sysenv | grep -v JAVA\n"
                 " sysenv | grep -e \"(?i)(JAVA|sun)\" -m 3  -C 2\n sysenv | grep JAVA -A2 -B3\n"
                 " thread | grep -c MainThread\n thread | grep -m 10 -e  \"TIMED_WAITING|WAITING\""),
    options=GREP_OPTIONS, arguments=GREP_ARGUMENTS)
register_refusal(
    "tee", "The tee command only for pipes. See 'tee --help'", summary="tee command for pipes.",
    description=("Examples:\n sysprop | tee /path/to/logfile | grep python \n"
                 " sysprop | tee -a /path/to/logfile | grep python "),
    options=TEE_OPTIONS, arguments=TEE_ARGUMENTS)
register_refusal("cls", "Command 'cls' is only support tty session.", summary="Clear the screen")
register_refusal("keymap", "Command 'keymap' is only support tty session.",
                 summary="Display all the available keymap for the specified connection.")
register_refusal("jobs", "jobs, fg, bg and kill are the shell's job control (telnet, the web console); an API "
                         "client ends its jobs with the interrupt_job and close_session actions.",
                 aliases=("fg", "bg", "kill"), summary="The shell's job control (jobs, fg, bg, kill)")
