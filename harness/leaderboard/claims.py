"""Published claims tested on a sweep's results: statistics and verdicts (pure functions).

A *pairwise* claim says that side A beats side B on one metric (``>``), or is at least as
good (``>=``). Each side is a method at a budget; its values are one per seed. With
``m_a, s_a, n_a`` the mean, sample standard deviation (ddof = 1) and number of seeds of A
(likewise B)::

    d = m_a - m_b                      (the difference of means)
    s = sqrt(s_a^2 / n_a + s_b^2 / n_b)  (the standard deviation of that difference)

Verdicts (the issue's rule: a difference counts when it is beyond 2 std of the difference):

- ``>``: *holds* iff ``d - 2s > 0``; *does not hold* iff ``d + 2s <= 0``; otherwise
  *inconclusive*. (Equal sides with no spread, ``d = s = 0``, do not hold: A is not greater.)
- ``>=`` with margin ``m >= 0`` (default 0): *holds* iff ``d - 2s >= -m`` (A is not worse than
  B by more than ``m``, beyond noise); *does not hold* iff ``d + 2s < -m`` (A is worse by more
  than ``m`` beyond noise); otherwise *inconclusive*. With ``m = 0`` it differs from ``>``
  only at the boundary: equal sides with no spread hold.
- A side with fewer than 2 seeds has no standard deviation: the verdict is *inconclusive*.
- A side with no run in the results (or no run carrying the metric) makes the claim *not run*.

An *order* claim compares the order of several methods on one metric with a published
order (values from a paper): Kendall's tau (``scipy.stats.kendalltau``, tau-b) between the
published values and the sweep's means, with its two-sided p-value, and tau per seed (over
the seeds every method has). Its verdict applies the ``>`` rule to the per-seed taus against
0 (``d`` = their mean, ``s`` = their standard deviation / sqrt(n)): *holds* when the order
agrees with the published one beyond seed noise, *does not hold* when it is unrelated or
reversed beyond that noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from harness.errors import SelbenchError

HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "holds", "does not hold", "inconclusive", "not run"
RELATIONS = (">", ">=")
GROUPS = ("ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval", "Average")
METRIC_PREFIXES = ("task:", "audit:")  # a task's main metric; a number in the subset's audit


@dataclass(frozen=True)
class Side:
    """One side of a claim: a method (first name found among ``names``) at ``budget``."""

    names: tuple[str, ...]
    budget: str
    published: float | None = None  # the paper's value (order claims)

    @property
    def label(self) -> str:
        """``name @ budget`` with the first (preferred) name."""
        return f"{self.names[0]} @ {self.budget}"


@dataclass(frozen=True)
class Claim:
    """A claim as configured: pairwise (``a``, ``b``, ``relation``) or ``order`` (``sides``)."""

    id: str
    source: str
    statement: str
    kind: str  # "pairwise" or "order"
    metrics: tuple[str, ...]
    a: Side | None = None
    b: Side | None = None
    relation: str = ">"
    margin: float = 0.0
    sides: tuple[Side, ...] = ()


@dataclass
class Stats:
    """Mean, sample std (ddof=1; NaN below 2 values) and the values of one side, per seed."""

    values: dict = field(default_factory=dict)  # seed -> value

    @property
    def n(self) -> int:
        """The number of seeds with a value."""
        return len(self.values)

    @property
    def mean(self) -> float:
        """The mean over seeds (NaN without values)."""
        return mean_std(list(self.values.values()))[0]

    @property
    def std(self) -> float:
        """The sample standard deviation over seeds (ddof = 1; NaN below 2 values)."""
        return mean_std(list(self.values.values()))[1]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample standard deviation with ddof = 1) of ``values``; NaN where undefined."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(mean(a) - mean(b), sqrt(s_a^2/n_a + s_b^2/n_b)); the std is NaN below 2 values a side."""
    ma, sa = mean_std(a)
    mb, sb = mean_std(b)
    if not a or not b:
        return math.nan, math.nan
    return ma - mb, math.sqrt(sa ** 2 / len(a) + sb ** 2 / len(b))


def verdict(d: float, s: float, relation: str = ">", margin: float = 0.0) -> str:
    """The verdict for a difference ``d`` with std ``s`` (rules in the module docstring)."""
    if relation not in RELATIONS:
        raise SelbenchError(f"unknown relation {relation!r}: use one of {', '.join(RELATIONS)}")
    if margin < 0 or math.isnan(margin):
        raise SelbenchError(f"margin must be >= 0, got {margin}")
    if math.isnan(d):
        return NOT_RUN
    if math.isnan(s):
        return INCONCLUSIVE
    if relation == ">":
        if d - 2 * s > 0:
            return HOLDS
        return FAILS if d + 2 * s <= 0 else INCONCLUSIVE
    if d - 2 * s >= -margin:
        return HOLDS
    return FAILS if d + 2 * s < -margin else INCONCLUSIVE


def kendall_tau(published: Sequence[float], observed: Sequence[float]) -> tuple[float, float]:
    """Kendall's tau-b and its two-sided p-value between two equally long sequences
    (``scipy.stats.kendalltau``); NaN when fewer than 2 items or one side is constant."""
    if len(published) != len(observed):
        raise SelbenchError("kendall_tau needs two sequences of the same length")
    if len(published) < 2:
        return math.nan, math.nan
    import warnings

    from scipy.stats import kendalltau

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant input warns and gives NaN: reported as such
        result = kendalltau(list(published), list(observed))
    return float(result.statistic), float(result.pvalue)


def side_stats(side: Side, table: Mapping[tuple[str, str], Mapping], metric: str) -> tuple[str | None, Stats]:
    """The name found for ``side`` in ``table`` and its per-seed values of ``metric``.

    ``table`` maps ``(method, budget)`` to ``{seed: {metric: value or None}}``. The first of
    ``side.names`` with any run at ``side.budget`` is used (None if none has); runs without
    the metric are left out.
    """
    for name in side.names:
        runs = table.get((name, side.budget))
        if runs:
            values = {seed: float(row[metric]) for seed, row in runs.items()
                      if row.get(metric) is not None and not math.isnan(float(row[metric]))}
            return name, Stats(values)
    return None, Stats({})


def _missing(side: Side, name: str | None, stats: Stats, metric: str) -> str | None:
    """Why a side has no values, or None when it has some."""
    if stats.n:
        return None
    if name is None:
        return f"no runs of {' or '.join(side.names)} at budget {side.budget}"
    return f"no run of {name} at budget {side.budget} has {metric}"


def evaluate_pairwise(claim: Claim, metric: str, table: Mapping) -> dict:
    """One result row of a pairwise claim on ``metric``: both sides' statistics, the
    difference, its std and the verdict (``not run`` naming what is missing)."""
    found_a, a = side_stats(claim.a, table, metric)
    found_b, b = side_stats(claim.b, table, metric)
    d, s = difference(list(a.values.values()), list(b.values.values()))
    missing = [m for m in (_missing(claim.a, found_a, a, metric), _missing(claim.b, found_b, b, metric)) if m]
    note = ""
    if missing:
        note = "; ".join(missing)
    elif a.n < 2 or b.n < 2:
        note = "fewer than 2 seeds on a side: no std"
    row = {"claim": claim.id, "kind": "pairwise", "metric": metric, "relation": claim.relation,
           "margin": claim.margin, "a": found_a or claim.a.names[0], "a_budget": claim.a.budget,
           "b": found_b or claim.b.names[0], "b_budget": claim.b.budget,
           "a_mean": a.mean, "a_std": a.std, "a_n": a.n, "a_seeds": _seeds(a),
           "b_mean": b.mean, "b_std": b.std, "b_n": b.n, "b_seeds": _seeds(b),
           "diff": d, "diff_std": s, "verdict": NOT_RUN if missing else verdict(d, s, claim.relation, claim.margin),
           "note": note, "statement": claim.statement, "source": claim.source}
    return row


def evaluate_order(claim: Claim, metric: str, table: Mapping) -> dict:
    """One result row of an order claim: the methods' means, Kendall's tau (of the means and
    per seed) against the published values, and the verdict on the per-seed taus."""
    found = [side_stats(side, table, metric) for side in claim.sides]
    missing = [m for side, (name, st) in zip(claim.sides, found) if (m := _missing(side, name, st, metric))]
    published = [side.published for side in claim.sides]
    means = [st.mean for _, st in found]
    row = {"claim": claim.id, "kind": "order", "metric": metric, "relation": "order",
           "margin": math.nan, "order": [
               {"method": name or side.names[0], "budget": side.budget, "published": side.published,
                "mean": st.mean, "std": st.std, "n": st.n}
               for side, (name, st) in zip(claim.sides, found)],
           "statement": claim.statement, "source": claim.source}
    if missing:
        return dict(row, tau=math.nan, tau_p=math.nan, tau_seeds={}, tau_seed_mean=math.nan,
                    tau_seed_std=math.nan, verdict=NOT_RUN, note="; ".join(missing))
    tau, p = kendall_tau(published, means)
    common = sorted(set.intersection(*(set(st.values) for _, st in found)), key=_seed_key)
    per_seed = {seed: kendall_tau(published, [st.values[seed] for _, st in found])[0] for seed in common}
    taus = [t for t in per_seed.values() if not math.isnan(t)]
    t_mean, t_std = mean_std(taus)
    se = t_std / math.sqrt(len(taus)) if taus else math.nan
    note = "" if len(taus) >= 2 else "fewer than 2 seeds with a tau: no std"
    return dict(row, tau=tau, tau_p=p, tau_seeds=per_seed, tau_seed_mean=t_mean, tau_seed_std=t_std,
                verdict=verdict(t_mean, se, ">") if taus else INCONCLUSIVE, note=note)


def evaluate_claims(claims: Sequence[Claim], table: Mapping) -> list[dict]:
    """Every claim on every one of its metrics, in configuration order: a list of rows."""
    rows = []
    for claim in claims:
        for metric in claim.metrics:
            rows.append(evaluate_order(claim, metric, table) if claim.kind == "order"
                        else evaluate_pairwise(claim, metric, table))
    return rows


def _seeds(stats: Stats) -> str:
    return ";".join(str(s) for s in sorted(stats.values, key=_seed_key))


def _seed_key(seed) -> tuple:
    text = str(seed)
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


# ----- the claims file -----------------------------------------------------------------------
def parse_claims(data: Mapping, where: str) -> list[Claim]:
    """Claims from a claims file's content (``{"claims": [...]}``); one-line errors naming ``where``."""
    items = data.get("claims") if isinstance(data, Mapping) else None
    if not isinstance(items, (list, tuple)) or not items:
        raise SelbenchError(f"{where}: a claims file needs a non-empty list under 'claims'")
    claims, seen = [], set()
    for i, item in enumerate(items):
        claim = _parse_claim(item, f"{where}: claim {i + 1}")
        if claim.id in seen:
            raise SelbenchError(f"{where}: claim id {claim.id!r} appears twice")
        seen.add(claim.id)
        claims.append(claim)
    return claims


_KEYS = {"id", "source", "statement", "kind", "metric", "metrics", "a", "b", "relation", "margin", "sides"}


def _parse_claim(item, where: str) -> Claim:
    if not isinstance(item, Mapping):
        raise SelbenchError(f"{where}: a claim is a mapping")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise SelbenchError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    for key in ("id", "source"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise SelbenchError(f"{where}: '{key}' must be a non-empty string")
    where = f"{where} ({item['id']})"
    metrics = item.get("metrics", item.get("metric"))
    metrics = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(metrics, (list, tuple)) or not metrics or not all(isinstance(m, str) and m for m in metrics):
        raise SelbenchError(f"{where}: 'metrics' must name one or more metrics")
    for metric in metrics:
        check_metric(metric, where)
    kind = item.get("kind", "pairwise")
    common = dict(id=item["id"], source=item["source"], statement=str(item.get("statement") or ""),
                  metrics=tuple(metrics))
    if kind == "order":
        sides = item.get("sides")
        if not isinstance(sides, (list, tuple)) or len(sides) < 2:
            raise SelbenchError(f"{where}: an order claim needs at least 2 'sides'")
        parsed = tuple(_parse_side(s, f"{where} side {j + 1}", published=True) for j, s in enumerate(sides))
        return Claim(kind="order", sides=parsed, relation="order", **common)
    if kind != "pairwise":
        raise SelbenchError(f"{where}: kind must be pairwise or order, got {kind!r}")
    relation = item.get("relation", ">")
    if relation not in RELATIONS:
        raise SelbenchError(f"{where}: relation must be one of {', '.join(RELATIONS)}, got {relation!r}")
    margin = item.get("margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise SelbenchError(f"{where}: margin must be a number >= 0, got {margin!r}")
    if relation == ">" and margin:
        raise SelbenchError(f"{where}: a margin applies to '>=' only")
    for key in ("a", "b"):
        if key not in item:
            raise SelbenchError(f"{where}: a pairwise claim needs sides 'a' and 'b'")
    return Claim(kind="pairwise", a=_parse_side(item["a"], f"{where} side a"),
                 b=_parse_side(item["b"], f"{where} side b"), relation=relation,
                 margin=float(margin), **common)


def check_metric(metric: str, where: str = "claim") -> None:
    """Raise unless ``metric`` is a group column, ``task:<key>[.<metric>]`` or ``audit:<path>``."""
    if metric in GROUPS:
        return
    for prefix in METRIC_PREFIXES:
        if metric.startswith(prefix) and metric[len(prefix):].strip():
            return
    raise SelbenchError(f"{where}: unknown metric {metric!r} (use one of {', '.join(GROUPS)}, "
                        "task:<task key>[.<metric>] or audit:<path in the subset audit, e.g. concepts_kept.tail>)")


def _parse_side(item, where: str, published: bool = False) -> Side:
    if not isinstance(item, Mapping):
        raise SelbenchError(f"{where}: a side is a mapping with 'method' and 'budget'")
    allowed = {"method", "budget", "published"} if published else {"method", "budget"}
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise SelbenchError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    names = item.get("method")
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n for n in names):
        raise SelbenchError(f"{where}: 'method' must be a name or a list of names")
    if "budget" not in item:
        raise SelbenchError(f"{where}: 'budget' is required (a fraction such as 0.3, or natural)")
    value = None
    if published:
        value = item.get("published")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise SelbenchError(f"{where}: 'published' must be the paper's number")
        value = float(value)
    return Side(tuple(names), budget_text(item["budget"], where), value)


def budget_text(budget, where: str = "claim") -> str:
    """A side's budget as the leaderboard labels it: fractions as ``%.4g`` (0.3 -> "0.3"),
    counts as ``n=K``, strings (``natural``) as given."""
    from harness.leaderboard.runs import budget_label

    if isinstance(budget, bool) or budget is None:
        raise SelbenchError(f"{where}: budget {budget!r} is not a fraction, a count or a label")
    if isinstance(budget, (int, float)):
        if not math.isfinite(budget) or budget <= 0:
            raise SelbenchError(f"{where}: budget {budget} must be a positive number")
        return budget_label(budget)[0]
    text = str(budget).strip()
    if not text:
        raise SelbenchError(f"{where}: budget is empty")
    try:
        return budget_text(float(text), where)
    except ValueError:
        return text
