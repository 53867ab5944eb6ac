"""The profiler: engines that sample stacks, and writers of what they collected.

- ``engines``: the engines behind one interface and the chooser (py-spy when it can run, else the
  in-process sampler; tracemalloc for ``alloc``), each describing its bias for ``profiler status``.
- ``pyspy``: py-spy run as a child process against this process (unbiased by the GIL), its raw stacks merged.
- ``sampler``: one agent thread reads every thread's Python stack with ``sys._current_frames()`` at a fixed
  interval and counts identical stacks (reusable on its own: it knows nothing of the profiler command).
- ``alloc``: tracemalloc in short windows, allocating stacks weighted in bytes.
- ``frames``: code objects to readable frame names (``module.qualname``), resolved when writing.
- ``profile``: a finished snapshot of the counts: collapsed stacks, include/exclude filters, the tree.
- ``flamegraph`` (interactive SVG and the HTML page around it), ``speedscope`` (speedscope JSON),
  ``markdown`` (the ``md`` report): writers of a snapshot; ``collapsed`` text comes from ``profile``.
- ``controller``: the one profiler of the process (start, stop, resume, dump, status, meminfo, ``-d``).
"""
