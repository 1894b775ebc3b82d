"""``users.yaml`` and ``teams.yaml`` of the local forge."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, RootModel

from bs.core.names import EMAIL, LOGIN, TEAM_NAME
from bs.errors import BsError
from bs.validation import validate_document
from bs.yamlio import load_yaml_file

Login = Annotated[str, Field(pattern=LOGIN)]
Email = Annotated[str, Field(pattern=EMAIL)]
TeamName = Annotated[str, Field(pattern=TEAM_NAME)]


class UsersFile(RootModel[dict[Login, Email]]):
    """``DIR/users.yaml``: each login and its email address."""


class TeamsFile(RootModel[dict[TeamName, list[Login]]]):
    """``DIR/teams.yaml``: each ``ORG/TEAM`` and its members' logins."""


class LocalPeople:
    """Who is who on the local forge, and who is acting (``BS_USER``)."""

    def __init__(self, root: Path, user: str | None) -> None:
        self.root = root
        self._user = user

    @cached_property
    def users(self) -> dict[str, str]:
        path = self.root / "users.yaml"
        data = load_yaml_file(path, str(path))
        return dict(validate_document(UsersFile, data, str(path)).root)

    @cached_property
    def teams(self) -> dict[str, list[str]]:
        path = self.root / "teams.yaml"
        if not path.exists():
            return {}
        data = load_yaml_file(path, str(path))
        parsed = validate_document(TeamsFile, data, str(path)).root
        return {team: list(members) for team, members in parsed.items()}

    def acting_user(self) -> str:
        known = ", ".join(sorted(self.users))
        if not self._user:
            raise BsError(
                f"BS_USER is not set: set it to your login on the local forge (one of {known})."
            )
        if self._user not in self.users:
            raise BsError(
                f"BS_USER '{self._user}' is not a user of the local forge: add it to "
                f"{self.root / 'users.yaml'} or use one of {known}."
            )
        return self._user
