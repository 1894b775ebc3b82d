"""Approval policies: ``policies/<name>.yaml``, file format version 1.

Modelled on palantir/policy-bot, but about releases: a rule's ``if:`` looks
at the release itself (the app's diff FROM..TO), not at the request file.

    approval:                 # a rule's name, or all_of / any_of of them
      all_of: [deployers, database migrations]
    rules:
      - name: deployers
        requires: {count: 1, teams: [alphagov/deployers]}
      - name: database migrations
        if: {changed_paths: ["db/migrate/**"]}
        requires: {count: 1, teams: [alphagov/dba]}
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bs.core.globs import check_glob
from bs.core.names import LOGIN, TEAM_NAME
from bs.core.request import RequestKind
from bs.core.slots import Duration, Schedule, parse_duration

#: all_of / any_of may nest this deep (the top group counts as 1).
MAX_NESTING = 5

Login = Annotated[str, Field(pattern=LOGIN)]
TeamName = Annotated[str, Field(pattern=TEAM_NAME)]
RuleName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^\S(?:.*\S)?$", description="a rule's name"),
]


class _Strict(BaseModel):
    # strict: YAML gives real ints and booleans; "2" or "yes" are mistakes, not values.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


class PlacedError(ValueError):
    """A validation error that knows where, under the validated model, it is.

    ``bs.validation`` appends `loc` to the error's location, so the message
    names the line of the offending value rather than the file's first line.
    """

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _present(value: Any, what: str) -> Any:
    """For optional sections: given but empty (``requesters:`` alone) is a mistake."""
    if value is None:
        raise ValueError(f"given but empty: fill in {what} or remove it")
    return value


class People(_Strict):
    """Users and teams; a person is in it when listed or a member of a listed team."""

    users: list[Login] = Field(default_factory=list)
    teams: list[TeamName] = Field(default_factory=list)

    def describe(self) -> str:
        """``bob, alphagov/dba`` for messages."""
        return ", ".join([*self.users, *self.teams]) or "nobody"


class NonEmptyPeople(People):
    """People that must name someone: an empty list is a mistake, not "nobody"."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["users"]}, {"required": ["teams"]}]}
    )

    @model_validator(mode="after")
    def _someone(self) -> NonEmptyPeople:
        if not self.users and not self.teams:
            raise ValueError("names nobody: list users or teams, or remove the key")
        return self


class Requires(NonEmptyPeople):
    count: int = Field(default=1, ge=1, le=100, description="how many approvals")


class MoreThan(_Strict):
    more_than: int = Field(ge=0)


class Predicates(_Strict):
    """When a rule applies; every predicate given must hold."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    changed_paths: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, description="globs; true when the release changes a matching path"
    )
    modified_lines: MoreThan | None = Field(
        default=None, description="true when insertions + deletions exceed more_than"
    )
    commits: MoreThan | None = Field(
        default=None, description="true when the release has more commits than more_than"
    )
    first_deploy: bool | None = Field(
        default=None, description="true: only for a first deploy; false: never for one"
    )

    @field_validator("changed_paths")
    @classmethod
    def _globs(cls, globs: list[str] | None) -> list[str] | None:
        if globs is not None:
            if not globs:
                raise ValueError("changed_paths is empty: list at least one glob")
            for glob in globs:
                check_glob(glob)
        return globs

    @model_validator(mode="after")
    def _some(self) -> Predicates:
        if all(
            v is None
            for v in (self.changed_paths, self.modified_lines, self.commits, self.first_deploy)
        ):
            raise ValueError("if: is empty: give a predicate or remove if:")
        return self


class RuleOptions(_Strict):
    allow_author: bool = Field(
        default=False,
        description="the requester's own approval counts (where the forge allows one at all)",
    )
    allow_pushers: bool = Field(
        default=False,
        description="approvals count from people who pushed to, authored or committed on the request's branch",
    )


class Rule(_Strict):
    name: RuleName
    description: str | None = None
    if_: Predicates | None = Field(default=None, alias="if")
    requires: Requires
    options: RuleOptions = RuleOptions()

    @field_validator("if_", mode="before")
    @classmethod
    def _if_given(cls, value: Any) -> Any:
        return _present(value, "if:")


def _node_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "rule"
    if isinstance(value, dict | Group):
        return "group"
    return None


class Group(_Strict):
    """``all_of`` or ``any_of``: exactly one of them."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    all_of: list[Node] | None = None
    any_of: list[Node] | None = None

    @model_validator(mode="after")
    def _one(self) -> Group:
        given = [k for k in ("all_of", "any_of") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a group is either all_of: [...] or any_of: [...], one of them")
        if not self.children:
            raise ValueError(f"{self.kind} is empty: list at least one rule")
        return self

    @property
    def kind(self) -> Literal["all_of", "any_of"]:
        return "all_of" if self.all_of is not None else "any_of"

    @property
    def children(self) -> list[Node]:
        return self.all_of if self.all_of is not None else (self.any_of or [])


Node = Annotated[
    Annotated[RuleName, Tag("rule")] | Annotated[Group, Tag("group")],
    Discriminator(
        _node_kind,
        custom_error_type="approval_node",
        custom_error_message="expected a rule's name or a group (all_of: [...] or any_of: [...])",
    ),
]
Group.model_rebuild()


class EmergencyRule(_Strict):
    """Break-glass: what `bs open-request --emergency` needs, and its slot."""

    approval: Node = Field(description="a rule's name, or all_of / any_of of them")
    slot: Duration = Field(
        default="1h",
        description="how long an emergency's deploy slot lasts, from the merge; "
        "deploy windows and freezes do not hold an emergency back",
    )
    review_within: Duration = Field(
        default="3d",
        description="the follow-up review under the normal rules is overdue (and `bs audit` "
        "fails) when not approved this long after the emergency deploy",
    )

    @field_validator("slot")
    @classmethod
    def _slot_length(cls, value: str) -> str:
        if not timedelta(minutes=5) <= parse_duration(value) <= timedelta(days=1):
            raise ValueError(f"an emergency slot lasts between 5m and 1d, not {value}")
        return value

    @field_validator("review_within")
    @classmethod
    def _review_time(cls, value: str) -> str:
        if not timedelta(hours=1) <= parse_duration(value) <= timedelta(days=90):
            raise ValueError(f"review_within is between 1h and 90d, not {value}")
        return value


class RollbackRule(_Strict):
    """What `bs open-request --rollback` needs; the slot is the policy's usual one."""

    approval: Node = Field(description="a rule's name, or all_of / any_of of them")


class Policy(_Strict):
    """One approval policy, referenced by apps in ``policies/apps.yaml``."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, title="approval policy"
    )

    version: Literal[1] = 1
    description: str | None = None
    requesters: NonEmptyPeople | None = Field(
        default=None, description="who may request the apps using this policy; absent: anyone"
    )
    approval: Node
    disapproval: NonEmptyPeople | None = Field(
        default=None, description="who may reject; absent: anyone who may approve under some rule"
    )
    rules: list[Rule] = Field(min_length=1)
    emergency: EmergencyRule | None = Field(
        default=None,
        description="break-glass requests (--emergency); absent: the policy allows none",
    )
    rollback: RollbackRule | None = Field(
        default=None,
        description="requests back to an older release (--rollback); absent: they need "
        "the approval above, like any release",
    )
    deploy: Schedule = Field(
        default_factory=Schedule,
        description="when approved releases may be deployed: slot length, windows, freezes",
    )

    @field_validator("requesters", "disapproval", "emergency", "rollback", mode="before")
    @classmethod
    def _people_given(cls, value: Any, info: ValidationInfo) -> Any:
        return _present(value, f"{info.field_name}:")

    @model_validator(mode="after")
    def _references(self) -> Policy:
        names = [rule.name for rule in self.rules]
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                raise PlacedError(
                    ("rules", index, "name"),
                    f"two rules are named '{name}': give each rule its own name",
                )
            seen.add(name)
        for ref, depth, loc in self._nodes():
            if depth > MAX_NESTING:
                raise PlacedError(
                    loc,
                    f"approval nests all_of/any_of {depth} deep: at most {MAX_NESTING}; flatten it",
                )
            if ref is not None and ref not in seen:
                raise PlacedError(
                    loc,
                    f"approval refers to rule '{ref}', which rules does not define: "
                    f"define it or use one of {', '.join(names)}",
                )
        return self

    def _nodes(self) -> Iterator[tuple[str | None, int, Loc]]:
        yield from _walk(self.approval, 0, ("approval",))
        if self.emergency is not None:
            yield from _walk(self.emergency.approval, 0, ("emergency", "approval"))
        if self.rollback is not None:
            yield from _walk(self.rollback.approval, 0, ("rollback", "approval"))

    def approval_for(self, kind: RequestKind) -> Node:
        """The approval a request of `kind` needs. A follow-up needs the normal one. Without
        its section, an emergency or a rollback needs the normal one too (never less);
        `bs open-request --emergency` refuses a policy that has none."""
        if kind == "emergency" and self.emergency is not None:
            return self.emergency.approval
        if kind == "rollback" and self.rollback is not None:
            return self.rollback.approval
        return self.approval

    def schedule_for(self, kind: RequestKind) -> Schedule:
        """When a request of `kind` may be deployed once merged: an emergency's own slot,
        from the merge, held back by no window or freeze; otherwise the policy's schedule."""
        if kind == "emergency" and self.emergency is not None:
            return Schedule(slot=self.emergency.slot, timezone=self.deploy.timezone)
        return self.deploy

    def rule(self, name: str) -> Rule:
        return next(rule for rule in self.rules if rule.name == name)

    def referenced_rules(self) -> set[str]:
        return {name for name, _, _ in self._nodes() if name is not None}

    def teams(self, kind: RequestKind | None = None) -> set[str]:
        """Every team the policy names; given a request's kind, those its evaluation reads
        (an emergency's on-call team is not looked up for a release)."""
        found = {*self.approvers(kind).teams, *self.disapprovers(kind).teams}
        if self.requesters is not None:
            found.update(self.requesters.teams)
        return found

    def users(self) -> set[str]:
        found = {u for rule in self.rules for u in rule.requires.users}
        for people in (self.requesters, self.disapproval):
            if people is not None:
                found.update(people.users)
        return found

    def approvers(self, kind: RequestKind | None = None) -> People:
        """Everyone some rule may count (of those `kind`'s approval names): the people
        asked to review."""
        if kind is None:
            rules = self.rules
        else:
            named = {n for n, _, _ in _walk(self.approval_for(kind), 0, ()) if n is not None}
            rules = [rule for rule in self.rules if rule.name in named]
        users = sorted({u for rule in rules for u in rule.requires.users})
        teams = sorted({t for rule in rules for t in rule.requires.teams})
        return People(users=users, teams=teams)

    def disapprovers(self, kind: RequestKind | None = None) -> People:
        """Who may reject: `disapproval:`, or everyone who may approve. Whoever may approve
        an emergency or a rollback under its own rule may also reject it."""
        if self.disapproval is None:
            return self.approvers()  # as documented: anyone any rule may count
        own_rule = (kind == "emergency" and self.emergency is not None) or (
            kind == "rollback" and self.rollback is not None
        )
        if not own_rule:
            return self.disapproval
        extra = self.approvers(kind)
        return People(
            users=sorted({*self.disapproval.users, *extra.users}),
            teams=sorted({*self.disapproval.teams, *extra.teams}),
        )


Loc = tuple[int | str, ...]


def _walk(node: str | Group, depth: int, loc: Loc) -> Iterator[tuple[str | None, int, Loc]]:
    """(rule name or None for a group, group depth, where it is) for each node."""
    if isinstance(node, str):
        yield node, depth, loc
        return
    yield None, depth + 1, (*loc, node.kind)
    for index, child in enumerate(node.children):
        yield from _walk(child, depth + 1, (*loc, node.kind, index))
