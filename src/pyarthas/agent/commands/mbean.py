"""mbean: refused, with the reason. JMX MBeans are the JVM's registry of management beans; a Python
process has no such registry, and what an MBean would tell (memory, gc, threads, runtime) the commands
memory, perfcounter, thread and jvm show."""
from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option

REFUSAL = ("mbean is not supported: a Python process has no JMX MBean server; use memory, perfcounter, "
           "thread, jvm and vmoption for what MBeans would show.")


@register
class MBeanCommand(Command):
    name = "mbean"
    summary = "Not supported in Python (no JMX MBean server); see memory, perfcounter, thread, jvm"
    options = [Option("metadata", "m", flag=True, help="accepted for Arthas compatibility"),
               Option("interval", "i", type=int, help="accepted for Arthas compatibility"),
               Option("number-of-execution", "n", dest="number", type=int, help="accepted for Arthas compatibility"),
               Option("regex", "E", flag=True, help="accepted for Arthas compatibility")]
    arguments = [Argument("name-pattern", help="accepted for Arthas compatibility"),
                 Argument("attribute-pattern", help="accepted for Arthas compatibility")]

    def run(self, process, args):
        raise CommandError(-1, REFUSAL)
