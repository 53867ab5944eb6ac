"""Read-only views of the running interpreter, shared by the inspection commands and ``dashboard``.

- ``threads``: ``thread_snapshot(interval_s)`` (Arthas ThreadVO dicts with CPU % from per-thread CPU
  clocks and a state inferred from where each thread stands, Arthas-style small ids beside the OS and Python
  ids), ``thread_info(number)`` (one thread with its stack), ``busy_threads(n, interval_s)``,
  ``blocking_lock_info()``; frames in them are ``values.frames`` StackTraceElements.
- ``memory``: ``memory_info()`` (Arthas ``memoryInfo``: heap / nonheap / buffer_pool entries from the OS),
  ``gc_infos()``, ``process_memory()`` (RSS, peaks), ``type_histogram()``.
- ``finder``: classes, modules and functions by pattern (``sc``, ``sm``, ``jad``, ``vmtool``).

Everything here is cheap enough for a loaded production process, starts no thread and leaves nothing
running.
"""
