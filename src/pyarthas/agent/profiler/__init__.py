"""A sampling profiler that runs inside the target (stdlib only, no ptrace) and writes flame graphs.

- ``sampler``: one agent thread that reads every thread's Python stack with ``sys._current_frames()``
  at a fixed interval and counts identical stacks; ``cpu`` mode weighs each thread by the CPU time it
  used since the last sample (per-thread CPU clocks), ``wall`` mode counts every thread.
- ``frames``: code objects to readable frame names (``module.Class.method``), resolved when writing.
- ``profile``: a finished snapshot of the counts: collapsed stacks, include/exclude filters, the tree.
- ``flamegraph`` (interactive SVG and the HTML page around it), ``speedscope`` (speedscope JSON):
  writers of a snapshot; ``collapsed`` text comes from ``profile``.
- ``controller``: the one profiler of the process (start, stop, resume, dump, status, ``-d``).
"""
