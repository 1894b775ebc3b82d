"""The evaluate benchmark: a big policy judged on many reviews, in-process.

A generated policy of RULES rules (most with ``if:`` predicates on changed
paths, modified lines, commits or first deploy; teams and users; counts of
1-3), its approval tree nested all_of/any_of up to bs's limit, is evaluated
on facts with REVIEWS reviews (approvals, some of an earlier commit, comments,
dismissals, change requests from people who may not reject) and a release of
PATHS changed paths. Each repetition times ``evaluate_policy`` then ``judge``
(bs.core.evaluate, bs.core.verdict), as ``bs check`` calls them; the figure is
the median. Goal: under GOAL_MS.

The cost grows with the release's size (every ``changed_paths`` glob is
tried on every changed path), so the same policy and reviews are also timed
on smaller and larger releases, for information.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from typing import Any

from bench.report import Goal, Row

RULES = 50
REVIEWS = 100
PATHS = 200
#: Release sizes also timed, for information (no goal): a small release and
#: the open-request benchmark's 5,000 files.
OTHER_PATHS = (20, 1000, 5000)
GOAL_MS = 10.0
GOAL_NAME = f"policy evaluation median ({RULES} rules, {REVIEWS} reviews)"
#: Each configuration: warm-ups, then up to `runs` repetitions or this many seconds.
WARMUP = 5
TIME_BUDGET_S = 2.0
MIN_RUNS = 10

TEAMS = (
    "alphagov/deployers", "alphagov/dba", "alphagov/security", "alphagov/frontend-devs",
    "alphagov/platform", "alphagov/content", "alphagov/accessibility", "alphagov/performance",
    "alphagov/data", "alphagov/leads",
)  # fmt: skip
GLOBS = (
    "db/migrate/**", "db/schema.rb", "config/*.yml", "config/initializers/", "app/assets/**/*.js",
    "**/*.rake", "Gemfile.lock", "app/controllers/admin/**", "lib/**", "spec/**",
    "app/views/**/*.erb", "**/secrets*", "vendor/**", "docs/*.md", "app/models/user*.rb",
)  # fmt: skip
HEAD = "c" * 40
EARLIER = "e" * 40


def _users(count: int) -> list[str]:
    return [f"user-{i:03d}" for i in range(count)]


def build_policy(rng: random.Random) -> dict[str, Any]:
    """The policy document, as a policies/<name>.yaml would hold it."""
    people = _users(150)
    rules: list[dict[str, Any]] = []
    for i in range(RULES):
        rule: dict[str, Any] = {
            "name": f"rule {i:02d}",
            "description": f"Generated rule {i}",
            "requires": {
                "count": rng.choice((1, 1, 1, 2, 2, 3)),
                "teams": rng.sample(TEAMS, rng.choice((1, 1, 2))),
            },
        }
        if rng.random() < 0.3:
            rule["requires"]["users"] = rng.sample(people, rng.choice((1, 2, 4)))
        if i % 5:  # four rules in five have an if:
            kinds = rng.sample(("changed_paths", "changed_paths", "modified_lines", "commits",
                                "first_deploy"), rng.choice((1, 1, 2)))  # fmt: skip
            predicates: dict[str, Any] = {}
            for kind in kinds:
                if kind == "changed_paths":
                    predicates[kind] = rng.sample(GLOBS, rng.choice((1, 2, 3)))
                elif kind == "modified_lines":
                    predicates[kind] = {"more_than": rng.choice((10, 100, 1000, 10_000))}
                elif kind == "commits":
                    predicates[kind] = {"more_than": rng.choice((1, 5, 50, 200))}
                else:
                    predicates[kind] = rng.random() < 0.2
            rule["if"] = predicates
        if rng.random() < 0.15:
            rule["options"] = {"allow_author": rng.random() < 0.5, "allow_pushers": True}
        rules.append(rule)
    names = [rule["name"] for rule in rules]
    rng.shuffle(names)
    return {
        "version": 1,
        "description": f"Generated: {RULES} rules",
        "requesters": {"teams": ["alphagov/frontend-devs"]},
        "approval": {"all_of": _tree(rng, names, depth=1)},
        "disapproval": {"teams": ["alphagov/leads"]},
        "rules": rules,
    }


def _tree(rng: random.Random, names: list[str], depth: int) -> list[Any]:
    """Children for a group at `depth` (bs allows 5): names, and nested any_of/all_of."""
    if depth >= 5 or len(names) <= 3:
        return list(names)
    parts = rng.randint(2, 4)
    cuts = sorted(rng.sample(range(1, len(names)), parts - 1))
    children: list[Any] = []
    for start, end in zip([0, *cuts], [*cuts, len(names)], strict=True):
        chunk = names[start:end]
        if len(chunk) == 1:
            children.append(chunk[0])
        else:
            kind = "any_of" if depth % 2 else "all_of"
            children.append({kind: _tree(rng, chunk, depth + 1)})
    return children


def _release_paths(rng: random.Random, count: int) -> list[str]:
    shapes = (
        "app/models/model_{}.rb", "app/views/pages/page_{}.html.erb", "app/controllers/c_{}.rb",
        "app/assets/javascripts/modules/m_{}.js", "spec/models/model_{}_spec.rb",
        "lib/tasks/task_{}.rake", "config/locales/l_{}.yml", "app/controllers/admin/a_{}.rb",
        "lib/govuk/thing_{}.rb", "test/fixtures/f_{}.json",
    )  # fmt: skip
    paths = [rng.choice(shapes).format(i) for i in range(count - 3)]
    return sorted(
        [*paths, "db/migrate/20250101000000_add_index.rb", "db/schema.rb", "Gemfile.lock"]
    )


def build_facts(rng: random.Random, paths: int, policy: Any) -> Any:
    """ApprovalFacts with REVIEWS reviews and a release of `paths` changed paths."""
    from bs.core.facts import ApprovalFacts

    people = _users(150)
    teams = {team: sorted(rng.sample(people, rng.randint(8, 30))) for team in TEAMS}
    teams["alphagov/frontend-devs"].append("user-999")
    reviewers = rng.sample(people, 70)
    reviews = []
    for i in range(REVIEWS):
        user = reviewers[i % len(reviewers)] if i < len(reviewers) else rng.choice(reviewers)
        state = rng.choices(("APPROVED", "COMMENTED", "CHANGES_REQUESTED", "DISMISSED"),
                            (70, 15, 5, 10))[0]  # fmt: skip
        if state == "CHANGES_REQUESTED" and user in teams["alphagov/leads"]:
            state = "COMMENTED"  # no standing rejection: the tree decides
        reviews.append({
            "user": user, "state": state, "commit": EARLIER if rng.random() < 0.15 else HEAD,
            "body": f"Review {i}: looked at the patch",
        })  # fmt: skip
    return ApprovalFacts.model_validate(
        {
            "requester": "user-999",
            "head": HEAD,
            "reviews": reviews,
            "contributors": {
                "user-999": "pushed to the request's branch",
                reviewers[0]: "authored a commit on the request's branch",
                reviewers[1]: "committed on the request's branch",
            },
            "teams": {team: teams[team] for team in sorted(policy.teams())},
            "release": {
                "paths": _release_paths(rng, paths),
                "insertions": 12 * paths,
                "deletions": 5 * paths,
                "commits": 37,
                "first_deploy": False,
            },
        }
    )


def _time(policy: Any, facts: Any, checks: list[Any], runs: int) -> tuple[list[float], Any]:
    from bs.core.evaluate import evaluate_policy
    from bs.core.verdict import judge

    for _ in range(WARMUP):
        verdict = judge(checks, "generated", evaluate_policy(policy, facts))
    times: list[float] = []
    deadline = time.perf_counter() + TIME_BUDGET_S
    while len(times) < runs and (len(times) < MIN_RUNS or time.perf_counter() < deadline):
        start = time.perf_counter()
        verdict = judge(checks, "generated", evaluate_policy(policy, facts))
        times.append(time.perf_counter() - start)
    return times, verdict


def bench_evaluate(runs: int, seed: int = 1) -> dict[str, Any]:
    from bs.core.checks import CheckResult
    from bs.core.evaluate import all_rules
    from bs.core.policy import Policy

    print(
        f"bench: evaluate_policy + judge, {RULES} rules, {REVIEWS} reviews, in-process",
        file=sys.stderr,
        flush=True,
    )
    rng = random.Random(seed)
    policy = Policy.model_validate(build_policy(rng))
    # As bs check passes them: every check passed.
    checks = [
        CheckResult(name, True, "ok")
        for name in ("open", "base", "files", "request", "app", "tag", "deployed", "ancestry",
                     "digest", "pushes")
    ]  # fmt: skip
    sizes: dict[str, Any] = {}
    for paths in sorted({PATHS, *OTHER_PATHS}):
        facts = build_facts(random.Random(seed), paths, policy)
        times, verdict = _time(policy, facts, checks, runs)
        ms = [t * 1000 for t in times]
        statuses = Counter(r.status for r in all_rules(verdict.policy.tree))
        sizes[str(paths)] = {
            "changed_paths": paths,
            "runs": len(ms),
            "median_ms": statistics.median(ms),
            "min_ms": min(ms),
            "max_ms": max(ms),
            "outcome": verdict.outcome,
            "rule_statuses": dict(sorted(statuses.items())),
        }
        print(
            f"  {paths:>5} changed paths: median {statistics.median(ms):7.2f} ms over "
            f"{len(ms)} runs, outcome {verdict.outcome} ({dict(sorted(statuses.items()))})",
            file=sys.stderr,
            flush=True,
        )
    main = sizes[str(PATHS)]
    return {
        "rules": RULES,
        "reviews": REVIEWS,
        "changed_paths": PATHS,
        "seed": seed,
        "what": "evaluate_policy(policy, facts) then judge(checks, name, result), in-process; "
        "the policy and facts are built (and validated) once, outside the timing",
        "groups": _count_groups(policy.approval),
        "median_ms": main["median_ms"],
        "runs": main["runs"],
        "by_release_size": sizes,
    }


def _count_groups(node: Any) -> int:
    if isinstance(node, str):
        return 0
    return 1 + sum(_count_groups(child) for child in node.children)


def goals(section: dict[str, Any]) -> list[Goal]:
    return [Goal(GOAL_NAME, section["median_ms"], GOAL_MS, "ms", inclusive=False)]


def rows(section: dict[str, Any], goal: Goal) -> list[Row]:
    out: list[Row] = [
        f"evaluate: evaluate_policy + judge in-process, {section['rules']} rules "
        f"({section['groups']} all_of/any_of groups), {section['reviews']} reviews",
    ]
    sizes = section["by_release_size"]
    main = sizes[str(section["changed_paths"])]
    out.append(
        (f"release of {main['changed_paths']:,} changed paths", f"{main['median_ms']:.2f} ms",
         f"< {GOAL_MS:.0f} ms", goal.mark)
    )  # fmt: skip
    for size in sizes.values():
        if size is not main:
            out.append(
                (f"    same, {size['changed_paths']:,} changed paths", f"{size['median_ms']:.2f} ms",
                 f"{size['runs']} runs, for information", "")
            )  # fmt: skip
    return out
