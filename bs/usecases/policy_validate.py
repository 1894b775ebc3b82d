"""``bs policy validate``: the policies of the working tree, checked before they merge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bs.core.policy import Policy
from bs.errors import BsError
from bs.policyfiles import APPS_PATH, Policies, policy_path
from bs.ports import Forge
from bs.validation import line_of


@dataclass(frozen=True)
class Finding:
    file: str
    line: int | None
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        if self.message.startswith(self.file):
            return self.message  # a load error: it names the file and lines itself
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


def policy_names(root: Path) -> list[str]:
    folder = root / "policies"
    return sorted(p.stem for p in folder.glob("*.yaml") if p.name != Path(APPS_PATH).name)


def validate_policies(root: Path, policies: Policies, forge: Forge | None) -> list[Finding]:
    """Every problem found; `forge` None skips the checks that users and teams exist."""
    findings: list[Finding] = []
    try:
        apps = policies.apps
    except BsError as exc:
        return [Finding(APPS_PATH, None, exc.message)]
    loaded: dict[str, Policy] = {}
    for name in policy_names(root):
        try:
            loaded[name] = policies.policy(name)
        except BsError as exc:
            findings.append(Finding(policy_path(name), None, exc.message))
    app_lines = policies.lines(APPS_PATH)
    used: set[str] = set()
    for app_name, app in apps.apps.items():
        used.add(app.policy)
        if app.policy not in loaded and not (root / policy_path(app.policy)).is_file():
            findings.append(Finding(
                APPS_PATH, line_of(app_lines, ("apps", app_name, "policy")),
                f"app {app_name} uses policy '{app.policy}', but {policy_path(app.policy)} does not exist: "
                "create it or use an existing policy",
            ))  # fmt: skip
    for name, policy in loaded.items():
        path = policy_path(name)
        lines = policies.lines(path)
        if name not in used:
            findings.append(
                Finding(path, None, "no app in policies/apps.yaml uses this policy", "warning")
            )
        referenced = policy.referenced_rules()
        for index, rule in enumerate(policy.rules):
            if rule.name not in referenced:
                findings.append(Finding(
                    path, line_of(lines, ("rules", index, "name")),
                    f"rule '{rule.name}' is defined but approval does not use it: add it to approval or remove it",
                    "warning",
                ))  # fmt: skip
        if forge is not None:
            findings.extend(_unknown_people(path, lines, policy, forge))
    return findings


def _unknown_people(
    path: str, lines: dict[tuple[int | str, ...], int], policy: Policy, forge: Forge
) -> list[Finding]:
    places: list[tuple[tuple[int | str, ...], list[str], list[str]]] = []
    for index, rule in enumerate(policy.rules):
        places.append((("rules", index, "requires"), rule.requires.users, rule.requires.teams))
    for key, people in (("requesters", policy.requesters), ("disapproval", policy.disapproval)):
        if people is not None:
            places.append(((key,), people.users, people.teams))
    findings: list[Finding] = []
    for loc, users, teams in places:
        for i, team in enumerate(teams):
            if not forge.team_exists(team):
                findings.append(Finding(path, line_of(lines, (*loc, "teams", i)),
                                        f"team {team} does not exist on the forge: fix the name or create the team"))  # fmt: skip
        for i, user in enumerate(users):
            if not forge.user_exists(user):
                findings.append(Finding(path, line_of(lines, (*loc, "users", i)),
                                        f"user {user} does not exist on the forge: fix the login"))  # fmt: skip
    return findings
