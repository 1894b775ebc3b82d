"""battlestations benchmarks: ``make bench`` (``.venv/bin/python -m bench``).

See bench/suite.py for what is measured and bench/world.py for what is built.
"""
