"""`make bench` / `python -m bench`: see docs/performance.md, or run with --help."""

from bench.run import run_main

run_main()
