"""The pure core: models, tag schemes, version judgement, patch statistics, ids.

Nothing in here does I/O or reads the clock or randomness itself; callers pass
them in. A test keeps it that way (no git, github, flask, click, smtplib).
"""
