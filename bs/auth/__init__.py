"""Signing in to GitHub from the CLI: the device flow and where its token is kept.

`bs.auth.tokens` finds the token to act with (environment, keyring, a private
file, ``gh``) and stores or removes it; `bs.auth.device` runs GitHub's OAuth
device flow. Neither prints, logs or puts a token in an error message.
"""

from __future__ import annotations
