from __future__ import annotations

from bs.cli.main import main

main()
