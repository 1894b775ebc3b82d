"""``users.yaml`` and ``teams.yaml`` of the local forge."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

from bs.core.names import EMAIL, LOGIN, TEAM_NAME

Login = Annotated[str, Field(pattern=LOGIN)]
Email = Annotated[str, Field(pattern=EMAIL)]
TeamName = Annotated[str, Field(pattern=TEAM_NAME)]


class UsersFile(RootModel[dict[Login, Email]]):
    """``DIR/users.yaml``: each login and its email address."""


class TeamsFile(RootModel[dict[TeamName, list[Login]]]):
    """``DIR/teams.yaml``: each ``ORG/TEAM`` and its members' logins."""
