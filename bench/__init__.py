"""Benchmarks: ``.venv/bin/python -m bench <scenario> [options]``; the last line printed is one JSON object.

A scenario is the module ``bench/<scenario with - as _>.py`` exposing ``main(argv) -> dict`` and
``SMOKE_ARGS`` (arguments for a tiny run that ``make test`` executes so benchmarks never rot).
"""
