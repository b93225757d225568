"""Synthetic prediction logs for the 60-day demo story: a tabular credit model and an LLM summarizer.

Every frame is a pure function of (day, rows, seed): randomness comes from `np.random.default_rng` seeded with
the seed, a per-model stream number and the day's ordinal, so re-generating a day gives an identical frame.

`rows` is the *weekday* volume of a day; Saturdays and Sundays get `int(rows * share)` rows, with share 0.6 for
`credit_risk` and 0.7 for `support_summarizer`. Weekends also shift the `channel` mix toward "mobile_app" and
raise `avg_txn_amount` by 15% — weekly seasonality, not an incident. The scripted incidents are listed in
`INCIDENTS`; everything else is stationary over the whole demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

DEMO_START = date(2026, 9, 1)
DEMO_DAYS = 60

TABULAR_MODEL = "credit_risk"
LLM_MODEL = "support_summarizer"

TABULAR_NUMERIC: tuple[str, ...] = (
    "income",
    "age",
    "loan_amount",
    "debt_to_income",
    "credit_utilization",
    "months_employed",
    "num_open_accounts",
    "num_late_payments",
    "account_age_days",
    "avg_txn_amount",
    "credit_score",
    "savings_balance",
    "num_credit_inquiries",
    "monthly_expenses",
    "num_dependents",
    "interest_rate",
    "loan_term_months",
    "collateral_value",
    "txn_count_30d",
    "session_duration_sec",
)
TABULAR_CATEGORICAL: tuple[str, ...] = ("region", "channel", "device_os", "merchant_category", "postcode")
LLM_NUMERIC = ("ticket_length",)
LLM_CATEGORICAL = ("customer_tier", "language")

_DRIFT_DAY = 30
_DRIFT_PER_DAY = 0.015
_CONCEPT_LOGIT_PER_DAY = 0.02  # from _DRIFT_DAY, true default risk outgrows the score by this much a day
_UNLINKED_PER_DAY = 0.04  # from _DRIFT_DAY, this much more of the applicants a day declare an unlinked income
_UNLINKED_MAX = 0.6
_MIX_DAY = 40
_RELEASE_DAY = 45
_RELEASE_LOGIT_SHIFT = 0.8
_PROMPT_DAY = 50
_SEGMENT_DAY = 52
_SEGMENT_REGION, _SEGMENT_COLUMN, _SEGMENT_SHIFT = "central", "debt_to_income", 0.1
_GUARD_BURST_DAY = 35
_GUARD_BURST_SHARE = 0.04
_ABNORMAL_OUTPUTS = (
    '{"summary": "The customer asked about billing. <|endoftext|>", "topics": ["billing"]}',
    '{"summary": "' + "I will summarize the ticket now. " * 30 + '", "topics": []}',
    '{"summary": "\x1b[31mERROR\x1b[0m refund", "topics": ["refund"]}',
    '{"summary": "x", "detail": ' + "[" * 12 + '"deep"' + "]" * 12 + "}",
)


@dataclass(frozen=True)
class Incident:
    """A scripted change: which model, from which day, on which column, of which kind."""

    model: str
    start_day: date
    column: str
    kind: str
    description: str


INCIDENTS: tuple[Incident, ...] = (
    Incident(
        TABULAR_MODEL,
        DEMO_START + timedelta(days=_DRIFT_DAY),
        "income",
        "gradual_drift",
        "declared income rises by 1.5% of its baseline per day (about +45% by the last day)",
    ),
    Incident(
        TABULAR_MODEL,
        DEMO_START + timedelta(days=_DRIFT_DAY),
        "income",
        "joint_drift",
        "a growing share of applicants (4% more a day, up to 60%) declare incomes unrelated to their savings and "
        "expenses: the joint distribution changes, income's own distribution does not",
    ),
    Incident(
        TABULAR_MODEL,
        DEMO_START + timedelta(days=_DRIFT_DAY),
        "label",
        "silent_regression",
        "the same applicants default more than their scores say (true logit +0.02 a day); scores stay flat, labels "
        "land 3-20 days late, and realized accuracy falls",
    ),
    Incident(
        TABULAR_MODEL,
        DEMO_START + timedelta(days=_MIX_DAY),
        "channel",
        "category_mix",
        "channel mix changes abruptly: 'branch' halves and the new value 'partner_api' takes ~15% of traffic",
    ),
    Incident(
        TABULAR_MODEL,
        DEMO_START + timedelta(days=_RELEASE_DAY),
        "score",
        "model_release",
        "model_version 1.1 goes live at 12:00 UTC with scores shifted up (logit +0.8), so more rejects",
    ),
    Incident(
        TABULAR_MODEL,
        DEMO_START + timedelta(days=_SEGMENT_DAY),
        _SEGMENT_COLUMN,
        "segment_shift",
        f"in region '{_SEGMENT_REGION}' alone (about 11% of traffic) debt-to-income reads {_SEGMENT_SHIFT} higher "
        "(0.7 of a standard deviation): a drift that segment carries while the model as a whole stays quiet",
    ),
    Incident(
        LLM_MODEL,
        DEMO_START + timedelta(days=_PROMPT_DAY),
        "output_text",
        "prompt_release",
        "prompt template v2: outputs ~2x longer and nested deeper (JSON depth 5 instead of 2), prompts ~40% longer",
    ),
    Incident(
        LLM_MODEL,
        DEMO_START + timedelta(days=_GUARD_BURST_DAY),
        "output_text",
        "guard_burst",
        "one day where 4% of outputs leak special tokens, loop, carry ANSI escapes or nest JSON 13 deep",
    ),
)


def incident_active(model: str, day: date) -> bool:
    """Whether a scripted incident of `model` is under way on `day` (a guard burst lasts one day; the other
    incidents last to the end of the demo)."""
    return any(
        i.model == model and (day == i.start_day if i.kind == "guard_burst" else day >= i.start_day) for i in INCIDENTS
    )


def demo_days() -> list[date]:
    """The DEMO_DAYS calendar days of the demo, in order."""
    return [DEMO_START + timedelta(days=i) for i in range(DEMO_DAYS)]


# --- shared helpers -------------------------------------------------------------------------------------------

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR
_EPOCH = date(1970, 1, 1)
_HOURLY_WEIGHTS = np.array(
    [
        0.3,
        0.2,
        0.15,
        0.15,
        0.2,
        0.3,
        0.5,
        0.8,
        1.2,
        1.4,
        1.5,
        1.5,
        1.6,
        1.5,
        1.5,
        1.4,
        1.4,
        1.5,
        1.6,
        1.7,
        1.6,
        1.4,
        1.1,
        0.6,
    ]
)
_TABULAR_STREAM, _LLM_STREAM, _LABEL_STREAM = 1, 2, 3
_TABLE_SIZE = 1 << 16
_RELEASE_US = (DEMO_START - _EPOCH).days * _US_PER_DAY + _RELEASE_DAY * _US_PER_DAY + 12 * _US_PER_HOUR


def _rng(seed: int, stream: int, *keys: int) -> np.random.Generator:
    """A generator owned by (seed, stream, keys): never global state, never the clock."""
    return np.random.default_rng([seed, stream, *keys])


def _day_index(day: date) -> int:
    return (day - DEMO_START).days


def _volume(day: date, rows: int, weekend_share: float) -> int:
    return int(rows * weekend_share) if day.weekday() >= 5 else rows


def _zipf(k: int, exponent: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1) ** exponent
    return weights / weights.sum()


def _codes(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """`n` indices drawn with probabilities `p` (to 2**-16), via a lookup table: much faster than `rng.choice`."""
    cdf = np.cumsum(p)
    table = np.searchsorted(cdf / cdf[-1], (np.arange(_TABLE_SIZE) + 0.5) / _TABLE_SIZE, side="right")
    return table[rng.integers(0, _TABLE_SIZE, n)]


def _pick(values: tuple[str, ...], codes: np.ndarray, name: str) -> pl.Series:
    """The string column `values[codes]`."""
    return pl.Series(name, values, dtype=pl.String).gather(codes)


def _draw(rng: np.random.Generator, values: tuple[str, ...], p: np.ndarray, n: int, name: str) -> pl.Series:
    return _pick(values, _codes(rng, p, n), name)


def _event_ts(rng: np.random.Generator, day: date, n: int) -> np.ndarray:
    """Microseconds since the epoch, within `day` (UTC), following the daily traffic cycle."""
    hours = _codes(rng, _HOURLY_WEIGHTS, n)
    offset = hours * _US_PER_HOUR + rng.integers(0, _US_PER_HOUR, size=n)
    return (day - _EPOCH).days * _US_PER_DAY + offset


def _ts_series(us: np.ndarray) -> pl.Series:
    return pl.Series("event_ts", us).cast(pl.Datetime("us", "UTC"))


def _ids(prefix: str, day: date, n: int) -> pl.Series:
    return pl.select(
        (pl.lit(f"{prefix}-{day:%Y%m%d}-") + pl.int_range(n).cast(pl.String).str.zfill(9)).alias("prediction_id")
    ).to_series()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- A. credit_risk -------------------------------------------------------------------------------------------

_WEEKEND_TABULAR = 0.6
_REGIONS = ("north", "south", "east", "west", "central")
_CHANNELS = ("mobile_app", "web", "branch", "call_center", "broker", "affiliate", "kiosk", "mail", "partner_api")
_DEVICE_OS = (
    *(f"android-{v}" for v in range(9, 16)),
    *(f"ios-{v}" for v in range(12, 19)),
    "windows-10",
    "windows-11",
    "macos-13",
    "macos-14",
    "linux",
    "chromeos",
)
_MERCHANT_CATEGORIES = tuple(f"mcc_{5000 + 37 * i}" for i in range(100))
_POSTCODES = tuple(f"{10000 + 173 * i:05d}" for i in range(500))
_LOAN_TERMS = np.array([12.0, 24, 36, 48, 60, 72])
_NULL_SHARE = dict(zip(TABULAR_NUMERIC, (0.01, 0.02, 0.03, 0.04, 0.05) * 4, strict=True))


def _channel_probs(d: int, weekend: bool) -> np.ndarray:
    """Channel probabilities (aligned with _CHANNELS): Zipf-like, more mobile on weekends, new mix from _MIX_DAY."""
    weights = np.append(_zipf(8), 0.0)
    if weekend:
        weights[0] *= 1.8
    if d >= _MIX_DAY:
        weights[2] *= 0.5
        weights = weights / weights.sum() * 0.85
        weights[-1] = 0.15
    return weights / weights.sum()


def _bimodal(
    rng: np.random.Generator, n: int, share: float, low: tuple[float, float], high: tuple[float, float]
) -> np.ndarray:
    """A mixture of two normals: `share` of the draws from N(*low), the rest from N(*high)."""
    return np.where(rng.random(n) < share, rng.normal(*low, size=n), rng.normal(*high, size=n))


def _tabular_numeric(rng: np.random.Generator, n: int, d: int, weekend: bool) -> dict[str, np.ndarray]:
    """The 20 numeric features without nulls; only `income` (drift) and `avg_txn_amount` (weekend) move.
    Savings and monthly expenses follow income (correlation 0.6 on the log or plain scale) until the joint drift
    unlinks a growing share of incomes from them."""
    drift = 1.0 + _DRIFT_PER_DAY * max(0, d - _DRIFT_DAY + 1)
    affluence = rng.normal(size=n)
    unlinked = rng.random(n) < min(_UNLINKED_MAX, _UNLINKED_PER_DAY * max(0, d - _DRIFT_DAY + 1))
    declared = np.where(unlinked, rng.normal(size=n), affluence)
    return {
        "income": np.exp(np.log(48_000) + 0.5 * declared) * drift,
        "age": np.clip(rng.normal(41, 12, n), 18, 90).round(),
        "loan_amount": rng.lognormal(np.log(12_000), 0.9, n).round(2),
        "debt_to_income": np.clip(rng.normal(0.36, 0.14, n), 0.0, 1.5),
        "credit_utilization": np.clip(_bimodal(rng, n, 0.6, (0.15, 0.08), (0.78, 0.12)), 0.0, 1.0),
        "months_employed": rng.gamma(1.8, 30, n).round(),
        "num_open_accounts": rng.poisson(4.5, n).astype(np.float64),
        "num_late_payments": np.where(rng.random(n) < 0.9, 0.0, rng.geometric(0.5, n)),
        "account_age_days": np.clip(_bimodal(rng, n, 0.3, (90, 45), (2400, 800)), 1, None).round(),
        "avg_txn_amount": rng.lognormal(np.log(60), 0.8, n) * (1.15 if weekend else 1.0),
        "credit_score": np.clip(rng.normal(680, 70, n), 300, 850).round(),
        "savings_balance": np.exp(np.log(3_500) + 1.4 * _follow(affluence, rng.normal(size=n))).round(2),
        "num_credit_inquiries": rng.poisson(1.3, n).astype(np.float64),
        "monthly_expenses": np.clip(2_900 + 850 * _follow(affluence, rng.normal(size=n)), 300, None),
        "num_dependents": rng.poisson(1.1, n).astype(np.float64),
        "interest_rate": np.clip(_bimodal(rng, n, 0.7, (6.5, 1.2), (15.5, 2.5)), 0.5, None),
        "loan_term_months": _LOAN_TERMS[_codes(rng, np.array([0.1, 0.2, 0.3, 0.15, 0.2, 0.05]), n)],
        "collateral_value": np.where(rng.random(n) < 0.55, 0.0, rng.lognormal(np.log(20_000), 0.7, n)),
        "txn_count_30d": np.floor(rng.lognormal(np.log(25), 0.7, n)),
        "session_duration_sec": rng.lognormal(np.log(210), 0.75, n),
    }


def _follow(leader: np.ndarray, noise: np.ndarray, correlation: float = 0.6) -> np.ndarray:
    """A standard normal correlated with the standard normal `leader`."""
    return correlation * leader + np.sqrt(1 - correlation**2) * noise


def _default_logit(rng: np.random.Generator, features: dict[str, np.ndarray]) -> np.ndarray:
    """Model 1.0's logit of default from a few features plus noise; income and channel stay out of it."""
    return (
        -1.6
        + 2.2 * (features["debt_to_income"] - 0.4)
        + 2.0 * (features["credit_utilization"] - 0.4)
        + 0.45 * np.minimum(features["num_late_payments"], 4)
        - 0.012 * (features["credit_score"] - 680)
        + 0.15 * features["num_credit_inquiries"]
        + rng.normal(0, 0.6, features["income"].size)
    )


def _with_nulls(rng: np.random.Generator, name: str, values: np.ndarray) -> pl.Series:
    """The feature as a Series with its share of nulls (overwrites `values` in place to save memory)."""
    values[rng.random(values.size) < _NULL_SHARE[name]] = np.nan
    return pl.Series(name, values, nan_to_null=True)


def tabular_day(day: date, rows: int, seed: int = 7) -> pl.DataFrame:
    """One day of `credit_risk` predictions: `rows` on weekdays, int(rows * 0.6) on weekends."""
    rng = _rng(seed, _TABULAR_STREAM, day.toordinal())
    d, weekend = _day_index(day), day.weekday() >= 5
    n = _volume(day, rows, _WEEKEND_TABULAR)
    ts = _event_ts(rng, day, n)
    released = ts >= _RELEASE_US

    features = _tabular_numeric(rng, n, d, weekend)
    score = _sigmoid(_default_logit(rng, features) + _RELEASE_LOGIT_SHIFT * released)
    numeric = [_with_nulls(rng, name, features.pop(name)) for name in TABULAR_NUMERIC]
    categorical = [
        _draw(rng, _REGIONS, _zipf(5, 0.8), n, "region"),
        _draw(rng, _CHANNELS, _channel_probs(d, weekend), n, "channel"),
        _draw(rng, _DEVICE_OS, _zipf(20), n, "device_os"),
        _draw(rng, _MERCHANT_CATEGORIES, _zipf(100), n, "merchant_category"),
        _draw(rng, _POSTCODES, _zipf(500, 1.0), n, "postcode"),
    ]
    if d >= _SEGMENT_DAY:
        numeric = [
            s + pl.Series(categorical[0] == _SEGMENT_REGION) * _SEGMENT_SHIFT if s.name == _SEGMENT_COLUMN else s
            for s in numeric
        ]
    return pl.DataFrame(
        [
            _ids("cr", day, n),
            pl.repeat(TABULAR_MODEL, n, eager=True).alias("model_name"),
            _pick(("1.0", "1.1"), released.astype(np.int8), "model_version"),
            _ts_series(ts),
            *numeric,
            *categorical,
            pl.Series("score", score),
            _pick(("approve", "reject"), (score >= 0.5).astype(np.int8), "prediction"),
            pl.Series("output_length", rng.binomial(8, 0.3, n).astype(np.int64)),
        ]
    )


# --- B. support_summarizer ------------------------------------------------------------------------------------

_WEEKEND_LLM = 0.7
_TIERS = ("free", "basic", "pro", "enterprise")
_LANGUAGES = ("en", "es", "de", "fr", "pt", "it")
_SENTIMENTS = ("negative", "neutral", "positive")
_TOPICS = (
    "billing", "login", "refund", "shipping", "account",
    "performance", "integration", "security", "cancellation", "upgrade",
)  # fmt: skip
_WORDS = pl.Series(
    "word",
    [
        "the",
        "a",
        "my",
        "our",
        "your",
        "this",
        "that",
        "it",
        "is",
        "was",
        "not",
        "cannot",
        "still",
        "again",
        "today",
        "yesterday",
        "please",
        "help",
        "need",
        "want",
        "order",
        "invoice",
        "payment",
        "charge",
        "card",
        "refund",
        "account",
        "password",
        "login",
        "email",
        "phone",
        "app",
        "website",
        "page",
        "error",
        "message",
        "screen",
        "update",
        "version",
        "install",
        "device",
        "browser",
        "server",
        "network",
        "connection",
        "delay",
        "slow",
        "crash",
        "timeout",
        "shipping",
        "package",
        "delivery",
        "address",
        "tracking",
        "return",
        "item",
        "product",
        "price",
        "discount",
        "plan",
        "subscription",
        "upgrade",
        "downgrade",
        "cancel",
        "renew",
        "trial",
        "team",
        "user",
        "admin",
        "access",
        "permission",
        "report",
        "export",
        "import",
        "data",
        "file",
        "sync",
        "settings",
        "notification",
        "support",
        "agent",
        "ticket",
        "issue",
        "problem",
        "question",
        "request",
        "response",
        "wait",
        "week",
        "month",
        "hour",
        "minute",
        "customer",
        "service",
        "billing",
        "security",
        "integration",
        "api",
        "key",
        "token",
        "limit",
        "quota",
        "usage",
        "feature",
        "bug",
        "fix",
        "working",
        "broken",
        "missing",
        "wrong",
        "double",
        "late",
        "early",
        "new",
        "old",
        "first",
        "last",
        "after",
        "before",
        "when",
        "since",
        "because",
        "and",
        "but",
        "or",
        "with",
        "without",
        "from",
        "into",
        "about",
        "for",
        "on",
        "in",
        "at",
    ],
)
_PROMPT_HEAD = (
    "System: You are a customer-support assistant. Summarize the ticket below as JSON with the keys "
    '"summary", "sentiment" and "topics".\n'
)
_PROMPT_V2_EXTRA = (
    'Also add an "analysis" object whose "sections" each carry a short title and a list of points. '
    "Ground every point in the ticket or in the retrieved context, keep the customer's own wording where "
    "possible, never invent order numbers, and flag anything that needs a human agent.\n"
)
PROMPT_TEMPLATES = (_PROMPT_HEAD, _PROMPT_HEAD + _PROMPT_V2_EXTRA)  # prompt versions 1 and 2


def _texts(rng: np.random.Generator, counts: np.ndarray) -> pl.Series:
    """One string of `counts[i]` random vocabulary words (each count >= 1) per entry."""
    words = _WORDS.gather(rng.integers(0, _WORDS.len(), int(counts.sum())))
    return _join_groups(words, counts, " ")


def _join_groups(pieces: pl.Series, counts: np.ndarray, separator: str) -> pl.Series:
    """Join consecutive runs of `pieces`, of lengths `counts` (each >= 1), into one string per run."""
    groups = np.repeat(np.arange(counts.size), counts)
    frame = pl.DataFrame({"group": groups, "piece": pieces})
    return frame.group_by("group", maintain_order=True).agg(pl.col("piece").str.join(separator))["piece"]


def _json_strings(items: pl.Series, counts: np.ndarray) -> pl.Series:
    """A JSON list of strings per run of `items`."""
    return pl.select(pl.lit('["') + _join_groups(items, counts, '", "') + pl.lit('"]')).to_series()


def _topics(rng: np.random.Generator, n: int) -> pl.Series:
    """1-3 distinct topics per row, as a JSON list."""
    counts = rng.integers(1, 4, n)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    first = np.repeat(_codes(rng, _zipf(len(_TOPICS)), n), counts)
    codes = (first + np.arange(starts.size) - starts) % len(_TOPICS)
    return _json_strings(_pick(_TOPICS, codes, "topic"), counts)


def _analysis(rng: np.random.Generator, n: int) -> pl.Series:
    """The v2 `analysis` object: 1-2 sections, each a title and 1-3 points."""
    sections = rng.integers(1, 3, n)
    n_sections = int(sections.sum())
    points = rng.integers(1, 4, n_sections)
    point_lists = _json_strings(_texts(rng, rng.integers(4, 9, int(points.sum()))), points)
    section_json = pl.select(
        pl.lit('{"title": "') + _texts(rng, rng.integers(2, 4, n_sections)) + pl.lit('", "points": ')
        + point_lists + pl.lit("}")
    ).to_series()  # fmt: skip
    return pl.select(pl.lit('{"sections": [') + _join_groups(section_json, sections, ", ") + pl.lit("]}")).to_series()


def _output_text(rng: np.random.Generator, n: int, v2: bool) -> pl.Series:
    """The model's JSON answers, with ~0.5% truncated (malformed) on every day."""
    parts = [
        pl.lit('{"summary": "'),
        _texts(rng, rng.integers(12, 31, n)),
        pl.lit('", "sentiment": "'),
        _draw(rng, _SENTIMENTS, np.array([0.45, 0.35, 0.2]), n, "sentiment"),
        pl.lit('", "topics": '),
        _topics(rng, n),
    ]
    if v2:
        parts += [pl.lit(', "analysis": '), _analysis(rng, n)]
    text = pl.concat_str([*parts, pl.lit("}")])
    truncated = pl.Series(rng.random(n) < 0.005)
    cut = pl.Series(rng.uniform(0.2, 0.9, n))
    return (
        pl.select(pl.when(truncated).then(text.str.head((text.str.len_chars() * cut).cast(pl.Int64))).otherwise(text))
        .to_series()
        .alias("output_text")
    )


def _retrieved_context(rng: np.random.Generator, n: int) -> pl.Series:
    """1-5 knowledge-base passages per row, each tagged with its document id."""
    passages = rng.integers(1, 6, n)
    total = int(passages.sum())
    doc_ids = pl.Series(rng.integers(1000, 10000, total)).cast(pl.String)
    tagged = pl.select(pl.lit("[kb-") + doc_ids + pl.lit("] ") + _texts(rng, rng.integers(25, 61, total)))
    return _join_groups(tagged.to_series(), passages, "\n\n").alias("retrieved_context")


def llm_day(day: date, rows: int, seed: int = 11) -> pl.DataFrame:
    """One day of `support_summarizer` predictions: `rows` on weekdays, int(rows * 0.7) on weekends."""
    rng = _rng(seed, _LLM_STREAM, day.toordinal())
    n = _volume(day, rows, _WEEKEND_LLM)
    v2 = _day_index(day) >= _PROMPT_DAY
    tier = _draw(rng, _TIERS, _zipf(4), n, "customer_tier")
    language = _draw(rng, _LANGUAGES, _zipf(6), n, "language")
    ticket = _texts(rng, np.clip(rng.lognormal(np.log(60), 0.6, n).round(), 5, 600).astype(np.int64))
    head = _PROMPT_HEAD + (_PROMPT_V2_EXTRA if v2 else "")
    prompt = pl.concat_str(
        [pl.lit(head + "Customer tier: "), tier, pl.lit("\nLanguage: "), language, pl.lit("\nTicket:\n"), ticket]
    )
    return pl.select(
        _ids("ss", day, n),
        pl.lit(LLM_MODEL).alias("model_name"),
        pl.lit("2.3").alias("model_version"),
        _ts_series(_event_ts(rng, day, n)),
        pl.lit("v2" if v2 else "v1").alias("prompt_version"),
        ticket.str.len_chars().cast(pl.Float64).alias("ticket_length"),
        tier,
        language,
        prompt.alias("prompt_text"),
        _retrieved_context(rng, n),
        _with_burst(rng, _output_text(rng, n, v2), day),
        pl.Series("score", rng.beta(8, 2, n)),
    )


def _with_burst(rng: np.random.Generator, outputs: pl.Series, day: date) -> pl.Series:
    """On the guard-burst day, replace a share of the outputs with abnormal ones (cycling through the kinds)."""
    if _day_index(day) != _GUARD_BURST_DAY:
        return outputs
    hit = np.flatnonzero(rng.random(len(outputs)) < _GUARD_BURST_SHARE)
    abnormal = pl.Series([_ABNORMAL_OUTPUTS[i % len(_ABNORMAL_OUTPUTS)] for i in range(len(hit))], dtype=pl.String)
    return outputs.scatter(hit, abnormal)


# --- C. labels ------------------------------------------------------------------------------------------------


def labels_for(frame: pl.DataFrame, seed: int = 13) -> pl.DataFrame:
    """Ground truth for `credit_risk` predictions: label ~ Bernoulli(true default probability), 3-20 days late.

    Until the silent regression the true probability is model 1.0's score, so 1.0 is calibrated and 1.1 (logit
    +0.8) over-predicts default; from _DRIFT_DAY the true logit rises by _CONCEPT_LOGIT_PER_DAY a day while the
    scores do not move. Deterministic for a given frame: the generator is seeded from `seed`, the first event day
    and the row count.
    """
    first = frame["event_ts"].min() if frame.height else datetime(1970, 1, 1, tzinfo=UTC)
    rng = _rng(seed, _LABEL_STREAM, first.toordinal(), frame.height)
    logit = (pl.col("score") / (1 - pl.col("score"))).log()
    days_in = (pl.col("event_ts").dt.date() - pl.lit(DEMO_START)).dt.total_days() - _DRIFT_DAY + 1
    concept = _CONCEPT_LOGIT_PER_DAY * days_in.clip(lower_bound=0)
    true_p = pl.when(pl.col("model_version") == "1.1").then(logit - _RELEASE_LOGIT_SHIFT).otherwise(logit) + concept
    delay_us = rng.integers(3 * _US_PER_DAY, 20 * _US_PER_DAY, frame.height, endpoint=True)
    return frame.select(
        "prediction_id",
        pl.when(pl.Series(rng.random(frame.height)) < 1 / (1 + (-true_p).exp()))
        .then(pl.lit("default"))
        .otherwise(pl.lit("repaid"))
        .alias("label"),
        (pl.col("event_ts") + pl.duration(microseconds=pl.Series(delay_us))).alias("label_ts"),
    )
