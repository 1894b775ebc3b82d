"""``users.yaml`` and ``teams.yaml`` of the local forge."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

Login = Annotated[str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
TeamName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class UsersFile(RootModel[dict[Login, Email]]):
    """``DIR/users.yaml``: each login and its email address."""


class TeamsFile(RootModel[dict[TeamName, list[Login]]]):
    """``DIR/teams.yaml``: each ``ORG/TEAM`` and its members' logins."""
