"""The tools that run outside the target: command line, attach, console, client.

Every module here keeps its top-level imports to the standard library, because ``pyarthas run`` and
``pyarthas demo`` execute in the target's interpreter, which may have nothing else installed; third-party
imports go inside the functions that need them.
"""
