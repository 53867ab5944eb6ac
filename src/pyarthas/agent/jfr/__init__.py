"""``jfr`` for Python: a continuous, low-overhead flight record of the process, as Java Flight Recorder's
recordings are for a JVM (Arthas's ``jfr start/status/dump/stop``).

- ``recorder.FlightRecorder``: one per agent; while at least one recording runs it collects events from
  the process (stack samples, gc collections and pauses, thread starts and ends, log records at WARNING
  and above, ``monitor`` cycles) and hands each to every running recording; with none running it holds no
  hook and no thread.
- ``recording.Recording``: one recording's events in a ring bounded by size and age, and its state
  (new, delayed, running, stopped, closed) as Java's ``jdk.jfr.Recording``.
- ``dump``: writes a recording as JSON lines (one event an object, documented in ``dump.py``) plus a
  flame graph of its samples; ``pyarthas jfr FILE`` reads it back.
"""
