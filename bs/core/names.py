"""The shapes of names bs reads from files and people, as regular expressions.

One place for them all: the models validate with them, the local forge
checks paths with them, and error messages say what each one means.
"""

from __future__ import annotations

#: OWNER/NAME, as GitHub allows them.
REPO_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"
#: An app: safe in paths, branch names and URLs.
APP_NAME = r"^[a-z0-9](?:[a-z0-9_-]{0,62})$"
#: A GitHub login (bots end in [bot]; Enterprise Managed Users' logins hold a "_").
LOGIN = r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38})(?:\[bot\])?$"
#: An address as mail headers carry it safely: an ASCII local part of RFC 5322 atoms
#: (no quotes, commas, angle brackets or spaces) and a host name with a dot.
EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
#: ORG/TEAM, with the team's slug.
TEAM_NAME = r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: A branch name (further rules in the model: no "..", "//", trailing "/" or ".lock").
GIT_REF_NAME = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"
#: A full commit id, SHA-1 or SHA-256.
COMMIT_SHA = r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$"
SHA256_HEX = r"^[0-9a-f]{64}$"
#: A tag name as git allows it: no spaces, control characters or ~^:?*[\ (git check-ref-format),
#: and no leading "-" (git tag refuses it; a deploy command would read it as an option).
TAG_NAME = r"^[^\x00-\x20\x7f~^:?*\[\\-][^\x00-\x20\x7f~^:?*\[\\]*$"
#: A path in a repository: no control characters.
REPO_PATH = r"^[^\x00-\x1f\x7f]+$"
