"""The project configuration: the lake, the monitored models, their columns, windows and drift settings.

`parse_config(mapping)` validates a plain mapping (as read from YAML) into frozen dataclasses; every error names
the path of the offending key, e.g. `models.credit_risk.reference.kind`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from monitoring_pipeline.core.alerts import DEFAULT_RULES, SEVERITIES, SIGNALS, AlertRule
from monitoring_pipeline.core.bins import DEFAULT_TOP_K, DEFAULT_VOCAB_CAP
from monitoring_pipeline.core.drift.compare import DriftSettings
from monitoring_pipeline.core.drift.multivariate import RECONSTRUCTION_ERROR
from monitoring_pipeline.core.drift.registry import TEXT_METHOD, ColumnKind, Thresholds, method_info, reachable
from monitoring_pipeline.core.errors import MonitoringError
from monitoring_pipeline.core.guards.evaluate import flag_column
from monitoring_pipeline.core.guards.rules import GuardRule, Severity, check_for
from monitoring_pipeline.core.performance import ALERT_METRICS, CLASSIFICATION_METRICS, REGRESSION_METRICS
from monitoring_pipeline.core.text import derived_text_columns


class ConfigError(MonitoringError, ValueError):
    """A configuration value is missing or invalid; the message names its path."""


@dataclass(frozen=True)
class MonitoredColumn:
    name: str
    kind: ColumnKind
    role: str  # "feature", "output", "prompt", "multivariate" or "guard" (the 0/1 failure flag of a guard rule)


@dataclass(frozen=True)
class ReferenceWindow:
    """Which days a day is compared against.

    - `fixed`: the days from `start` to `end` inclusive (a training window); with `match_weekday`, only those
      falling on the same weekday as the day judged (for weekly seasonality).
    - `rolling`: the `days` days before the day judged.
    - `same_weekday`: the same weekday in each of the `weeks` weeks before the day judged.
    """

    kind: str
    start: date | None = None
    end: date | None = None
    days: int | None = None
    weeks: int | None = None
    match_weekday: bool = False

    KINDS = ("fixed", "rolling", "same_weekday")

    def days_for(self, day: date) -> list[date]:
        if self.kind == "fixed":
            span = self.span()
            return [d for d in span if d.weekday() == day.weekday()] if self.match_weekday else span
        if self.kind == "rolling":
            return [day - timedelta(days=i) for i in range(self.days, 0, -1)]
        return [day - timedelta(weeks=i) for i in range(self.weeks, 0, -1)]

    def span(self) -> list[date]:
        """Every day from start to end (fixed windows only)."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed {self.start}..{self.end}" + (" same weekday" if self.match_weekday else "")
        if self.kind == "rolling":
            return f"rolling {self.days} days"
        return f"same weekday, last {self.weeks} weeks"


@dataclass(frozen=True)
class ExpectationSettings:
    """Data expectations on each day of the raw log (run with Great Expectations as an asset check)."""

    score_column: str | None = None
    score_range: tuple[float, float] = (0.0, 1.0)
    max_null_share: Mapping[str, float] = field(default_factory=dict)
    allowed_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    row_count: tuple[int | None, int | None] = (1, None)  # bounds on a day's rows; an empty day fails by default


@dataclass(frozen=True)
class GuardSettings:
    """Output guards of one model: the rules, and the blocked share above which a day is held back."""

    rules: tuple[GuardRule, ...] = ()
    max_blocked_share: float = 0.05


@dataclass(frozen=True)
class PerformanceSettings:
    """How labels judge a model: a binary classifier's positive label and score (the probability of that label)
    with its decision threshold, or a regressor's prediction column; a categorical segment column to break
    metrics down by; k of the noise band (mean ± k·σ over the reference days); the label coverage a day needs
    before its realized value is judged (band, CUSUM, estimation error) — a day with a few labels is noise."""

    task: str = "classification"  # or "regression"
    label_column: str = "label"
    positive_label: str | None = None
    score_column: str = "score"
    threshold: float = 0.5
    segment: str | None = None
    band_k: float = 3.0
    min_coverage: float = 0.5
    alert_metrics: tuple[str, ...] = ()  # the metrics whose alarms count towards a review (default: by task)

    def alerting(self) -> tuple[str, ...]:
        return self.alert_metrics or ALERT_METRICS[self.task]


@dataclass(frozen=True)
class MultivariateSettings:
    """The PCA reconstruction-error signal: which numeric features it watches together, and the share of the
    baseline's variance its components keep."""

    columns: tuple[str, ...]
    explained: float = 0.65


@dataclass(frozen=True)
class ModelSpec:
    name: str
    log_table: str
    label_table: str | None
    start_date: date
    end_date: date | None  # exclusive; None = open-ended (production)
    baseline: ReferenceWindow  # where bins are frozen
    reference: ReferenceWindow
    columns: tuple[MonitoredColumn, ...]
    text_output: str | None
    prompt_text: str | None
    prompt_context: str | None
    drift: Mapping[str, DriftSettings] = field(default_factory=dict)
    expectations: ExpectationSettings = ExpectationSettings()
    guards: GuardSettings = GuardSettings()
    alerts: tuple[AlertRule, ...] = DEFAULT_RULES
    performance: PerformanceSettings | None = None  # None: no labels, no performance
    multivariate: MultivariateSettings | None = None  # None: no reconstruction-error signal
    drift_window: int = 7  # days a rolling window adds up to catch a slow shift (0: days only)
    segments: tuple[str, ...] = ()  # categorical features whose values are judged as segments of their own
    owners: tuple[str, ...] = ()  # e-mail addresses or `team:NAME`: shown on the model's assets, jobs and sensors

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The log columns read to compute the monitored columns."""
        derived = derived_text_columns(self.text_output, self.prompt_text, self.prompt_context)
        plain = tuple(c.name for c in self.columns if c.name not in derived and c.role not in ("guard", "multivariate"))
        return plain + tuple(s for s in (self.text_output, self.prompt_text, self.prompt_context) if s)

    def columns_with_role(self, *roles: str) -> tuple[MonitoredColumn, ...]:
        return tuple(c for c in self.columns if c.role in roles)

    def settings_for(self, column: str) -> DriftSettings:
        return self.drift.get(column, self.drift.get("*", DriftSettings()))

    def training_days(self) -> set[date]:
        """The days the bins and a fixed reference come from: in-sample for drift and performance."""
        fixed = set(self.reference.span()) if self.reference.kind == "fixed" else set()
        return set(self.baseline.span()) | fixed


RETENTION_DAYS = 400  # how long every table keeps its Delta history (commit files, removed data files) by default
MIN_RETENTION_DAYS = 183  # six months: the EU AI Act's floor for keeping a high-risk system's logs


@dataclass(frozen=True)
class LakeSpec:
    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    retention_days: int = RETENTION_DAYS  # the history `audit verify` and time travel rely on


CLAIMED, SIGNED = "claimed", "signed"  # governance.identity: a person is who they say, or who their key proves
ROLE_VERBS = ("propose", "approve", "deploy", "release", "resolve")


@dataclass(frozen=True)
class Governance:
    """Lifecycle rules of the registry: with `four_eyes`, approvals must come from someone other than the
    registrant or proposer; with `require_eval`, a model version needs an evaluation checkpoint to be approved.
    With `identity: signed`, every person's action is signed with a key of the `allowed_signers` file, and `roles`
    (verb -> model or `*` -> principals) says who may do what."""

    four_eyes: bool = True
    require_eval: bool = True
    owners: tuple[str, ...] = ()  # who answers for the registry and the audit log (shown on their Dagster assets)
    identity: str = CLAIMED
    allowed_signers: str | None = None  # an OpenSSH allowed signers file (absolute, or relative to the config)
    roles: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketSettings:
    """Where retraining-review tickets are delivered: a webhook (none: they stay in the tickets table). The secret
    is read from the environment variable `secret_env`, never from the config."""

    webhook_url: str | None = None
    format: str = "generic"
    secret_env: str = "MP_WEBHOOK_SECRET"
    timeout_seconds: float = 5.0
    max_attempts: int = 4
    jira_project: str = "MLOPS"
    allow_private: bool = False  # a self-hosted tracker on a private or loopback address


@dataclass(frozen=True)
class ProjectConfig:
    lake: LakeSpec
    models: Mapping[str, ModelSpec]
    top_k: int = DEFAULT_TOP_K
    vocab_cap: int = DEFAULT_VOCAB_CAP
    governance: Governance = Governance()
    tickets: TicketSettings = TicketSettings()

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            raise ConfigError(f"unknown model {name!r}; configured: {sorted(self.models)}") from None


# -- parsing ----------------------------------------------------------------------------------------------------


def _require(mapping: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in mapping or mapping[key] is None:
        raise ConfigError(f"{path}.{key}: required")
    return mapping[key]


def _date(value: Any, path: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{path}: expected a date YYYY-MM-DD, got {value!r}") from None


def _positive_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{path}: expected a positive integer, got {value!r}")
    return value


def _finite(value: Any, path: str, above: float | None = None) -> float:
    """A finite number (above `above` when given), or a ConfigError naming the key: NaN or infinity in a
    threshold would silently decide every verdict."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}: expected a finite number, got {value!r}")
    if above is not None and not value > above:
        raise ConfigError(f"{path}: expected a number above {above:g}, got {value!r}")
    return float(value)


def parse_window(raw: Mapping[str, Any], path: str) -> ReferenceWindow:
    kind = _require(raw, "kind", path)
    if kind not in ReferenceWindow.KINDS:
        raise ConfigError(f"{path}.kind: expected one of {list(ReferenceWindow.KINDS)}, got {kind!r}")
    if kind == "fixed":
        start, end = (
            _date(_require(raw, "start", path), f"{path}.start"),
            _date(_require(raw, "end", path), f"{path}.end"),
        )
        if end < start:
            raise ConfigError(f"{path}: end {end} is before start {start}")
        return ReferenceWindow(kind, start=start, end=end, match_weekday=bool(raw.get("match_weekday", False)))
    if kind == "rolling":
        return ReferenceWindow(kind, days=_positive_int(_require(raw, "days", path), f"{path}.days"))
    return ReferenceWindow(kind, weeks=_positive_int(_require(raw, "weeks", path), f"{path}.weeks"))


def _thresholds(raw: Mapping[str, Any], path: str) -> dict[str, Thresholds]:
    parsed = {}
    for method, bounds in raw.items():
        try:
            if method != TEXT_METHOD:
                method_info(method)
            warn, drift = bounds["warn"], bounds["drift"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}.{method}: {exc}") from None
        warn, drift = _finite(warn, f"{path}.{method}.warn"), _finite(drift, f"{path}.{method}.drift")
        if not 0 <= warn <= drift:
            raise ConfigError(f"{path}.{method}: need 0 <= warn <= drift, got warn {warn:g} and drift {drift:g}")
        parsed[method] = Thresholds(warn, drift)
        if method != TEXT_METHOD and not reachable(method, parsed[method].drift):
            raise ConfigError(
                f"{path}.{method}.drift: {parsed[method].drift} is more than {method} can ever be "
                f"({method_info(method).reach:.4g}), so the column could never drift; give a lower threshold"
            )
    return parsed


def _known_keys(raw: Mapping[str, Any], known: Iterable[str], path: str) -> None:
    """Refuse a key the config does not know (a typo would silently remove what it configures), naming its path
    and the nearest known key."""
    known = sorted(known)
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"expected one of {known}"
            raise ConfigError(f"{path}.{key}: unknown key; {hint}")


DRIFT_SETTING_KEYS = ("decide_on", "thresholds", "alpha", "min_sample", "band_k", "calibrate")


def parse_drift_settings(raw: Mapping[str, Any], path: str, base: DriftSettings | None = None) -> DriftSettings:
    base = base or DriftSettings()
    _known_keys(raw, DRIFT_SETTING_KEYS, path)
    alpha = raw.get("alpha", base.alpha)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"{path}.alpha: expected a number between 0 and 1 (exclusive), got {alpha!r}")
    min_sample = raw.get("min_sample", base.min_sample)
    if isinstance(min_sample, bool) or not isinstance(min_sample, int) or min_sample < 1:
        raise ConfigError(f"{path}.min_sample: expected a whole number of at least 1, got {min_sample!r}")
    decide_on = tuple(raw.get("decide_on", base.decide_on))
    for method in decide_on:
        try:
            method_info(method)
        except ValueError as exc:
            raise ConfigError(f"{path}.decide_on: {exc}") from None
    band_k = raw.get("band_k", base.band_k)
    if band_k is not None:
        band_k = _finite(band_k, f"{path}.band_k (drift at mean + k·σ, warn at k - 1)", above=1)
    calibrate = raw.get("calibrate", base.calibrate)
    if not isinstance(calibrate, bool):
        raise ConfigError(f"{path}.calibrate: expected true or false, got {calibrate!r}")
    return DriftSettings(
        decide_on=decide_on,
        thresholds={**base.thresholds, **_thresholds(raw.get("thresholds", {}), f"{path}.thresholds")},
        alpha=float(alpha),
        min_sample=min_sample,
        band_k=float(band_k) if band_k is not None else None,
        calibrate=calibrate,
    )


def _columns(raw: Mapping[str, Any], role: str, path: str) -> list[MonitoredColumn]:
    columns = []
    for kind in ColumnKind:
        names = raw.get(kind.value, []) or []
        if not isinstance(names, list):
            raise ConfigError(f"{path}.{kind.value}: expected a list of column names")
        columns.extend(MonitoredColumn(str(n), kind, role) for n in names)
    unknown = set(raw) - {k.value for k in ColumnKind} - {"text"}
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected numeric, categorical, text")
    return columns


def parse_expectations(raw: Mapping[str, Any], names: list[str], path: str) -> ExpectationSettings:
    unknown = [c for c in [*raw.get("max_null_share", {}), *raw.get("allowed_values", {})] if c not in names]
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]!r} is not a monitored column")
    score = raw.get("score_column", "score" if "score" in names else None)
    low, high = raw.get("score_range", (0.0, 1.0))
    min_rows, max_rows = raw.get("row_count", (1, None))
    return ExpectationSettings(
        row_count=(min_rows, max_rows),
        score_column=score,
        score_range=(float(low), float(high)),
        max_null_share={c: float(v) for c, v in (raw.get("max_null_share") or {}).items()},
        allowed_values={c: tuple(str(v) for v in values) for c, values in (raw.get("allowed_values") or {}).items()},
    )


GUARD_RATE_THRESHOLDS = Thresholds(warn=0.01, drift=0.03)  # absolute change of a rule's failure rate
GUARD_RULE_KEYS = {"id", "version", "severity", "check", "column", "params", "description"}


def parse_guard_rule(raw: Mapping[str, Any], columns: set[str], path: str) -> GuardRule:
    unknown = set(raw) - GUARD_RULE_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected {sorted(GUARD_RULE_KEYS)}")
    rule_id = str(_require(raw, "id", path))
    path = f"{path}({rule_id})"
    severity = str(raw.get("severity", "block"))
    if severity not in Severity.__members__.values():
        raise ConfigError(f"{path}.severity: expected one of {[s.value for s in Severity]}, got {severity!r}")
    rule = GuardRule(
        id=rule_id,
        version=_positive_int(raw.get("version", 1), f"{path}.version"),
        severity=Severity(severity),
        check=str(_require(raw, "check", path)),
        column=str(_require(raw, "column", path)),
        params=dict(raw.get("params", {}) or {}),
        description=str(raw.get("description", "")),
    )
    missing = [c for c in rule.read() if c not in columns]
    if missing:
        raise ConfigError(f"{path}: column {missing[0]!r} is not in the log contract of this model")
    try:
        check_for(rule.check).build(rule)  # unknown checks, parameters and types fail here, not at run time
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return rule


def parse_guards(raw: Mapping[str, Any], columns: set[str], path: str) -> GuardSettings:
    rules = tuple(parse_guard_rule(r, columns, f"{path}.rules[{i}]") for i, r in enumerate(raw.get("rules", []) or []))
    ids = [r.id for r in rules]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ConfigError(f"{path}.rules: rule ids used twice: {duplicated}")
    share = float(raw.get("max_blocked_share", GuardSettings.max_blocked_share))
    if not 0 <= share <= 1:
        raise ConfigError(f"{path}.max_blocked_share: expected a share between 0 and 1, got {share}")
    return GuardSettings(rules, share)


def parse_alerts(raw: Mapping[str, Any] | None, path: str) -> tuple[AlertRule, ...]:
    """A model's `alerts` mapping (signal -> settings, or false to drop it) over the default rules."""
    rules = {rule.signal: rule for rule in DEFAULT_RULES}
    for signal, settings in (raw or {}).items():
        where = f"{path}.{signal}"
        if signal not in SIGNALS:
            raise ConfigError(f"{where}: unknown signal; expected one of {list(SIGNALS)}")
        if not settings:
            rules.pop(signal, None)
            continue
        unknown = set(settings) - {"threshold", "days", "of_last", "severity", "recover_after"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {sorted(unknown)}; expected threshold, days, of_last, severity, recover_after"
            )
        base = rules.get(signal) or next(r for r in DEFAULT_RULES if r.signal == signal)
        rule = AlertRule(
            signal,
            _finite(settings.get("threshold", base.threshold), f"{where}.threshold", above=0),
            _positive_int(settings.get("days", base.days), f"{where}.days"),
            _positive_int(settings.get("of_last", base.of_last), f"{where}.of_last"),
            str(settings.get("severity", base.severity)),
            _positive_int(settings.get("recover_after", base.recover_after), f"{where}.recover_after"),
        )
        if not 1 <= rule.days <= rule.of_last:
            raise ConfigError(f"{where}: need 1 <= days <= of_last, got {rule.days} of {rule.of_last}")
        if rule.severity not in SEVERITIES:
            raise ConfigError(f"{where}.severity: expected one of {list(SEVERITIES)}, got {rule.severity!r}")
        rules[signal] = rule
    return tuple(rules.values())


MODEL_KEYS = (
    "log_table",
    "label_table",
    "start_date",
    "end_date",
    "baseline",
    "reference",
    "features",
    "outputs",
    "prompt",
    "drift",
    "expectations",
    "guards",
    "alerts",
    "performance",
    "multivariate",
    "owners",
    "segments",
)


def parse_model(name: str, raw: Mapping[str, Any]) -> ModelSpec:
    path = f"models.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping of the model's settings")
    _known_keys(raw, MODEL_KEYS, path)
    outputs = raw.get("outputs", {}) or {}
    prompt = raw.get("prompt", {}) or {}
    text_output, prompt_text, prompt_context = outputs.get("text"), prompt.get("text"), prompt.get("context")
    columns = _columns(raw.get("features", {}) or {}, "feature", f"{path}.features")
    columns += _columns(outputs, "output", f"{path}.outputs")
    for derived, role in derived_text_columns(text_output, prompt_text, prompt_context).items():
        columns.append(MonitoredColumn(derived, ColumnKind.NUMERIC, role))
    multivariate = parse_multivariate(raw.get("multivariate"), columns, f"{path}.multivariate")
    if multivariate:
        columns.append(MonitoredColumn(RECONSTRUCTION_ERROR, ColumnKind.NUMERIC, "multivariate"))
    names = [c.name for c in columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"{path}: columns listed twice: {duplicated}")
    if not columns:
        raise ConfigError(f"{path}: no monitored columns (features or outputs)")
    drift_raw = raw.get("drift", {}) or {}
    _known_keys(drift_raw, ("defaults", "columns", "window_days"), f"{path}.drift")
    defaults = parse_drift_settings(drift_raw.get("defaults", {}) or {}, f"{path}.drift.defaults")
    guards = parse_guards(raw.get("guards", {}) or {}, _log_columns(names, outputs, prompt), f"{path}.guards")
    flags = [MonitoredColumn(flag_column(rule.id), ColumnKind.NUMERIC, "guard") for rule in guards.rules]
    columns += flags
    # A guard flag is 0/1, so its KS statistic is exactly the change in the rule's failure rate.
    rate = replace(defaults, decide_on=("ks",), thresholds={**defaults.thresholds, "ks": GUARD_RATE_THRESHOLDS})
    drift = {"*": defaults} | {flag.name: rate for flag in flags}
    texts = [t for t in (outputs.get("text"), prompt.get("text")) if t]  # judged by text drift (core.drift.text)
    for column, settings in (drift_raw.get("columns", {}) or {}).items():
        if column not in [c.name for c in columns] + texts:
            raise ConfigError(f"{path}.drift.columns.{column}: not a monitored column of {name}")
        drift[column] = parse_drift_settings(settings, f"{path}.drift.columns.{column}", drift.get(column, defaults))
    end = raw.get("end_date")
    window = drift_raw.get("window_days", 7)
    if not isinstance(window, int) or isinstance(window, bool) or window < 0 or window == 1:
        raise ConfigError(f"{path}.drift.window_days: expected 0 (days only) or 2 days or more, got {window!r}")
    spec = ModelSpec(
        name=name,
        log_table=str(_require(raw, "log_table", path)),
        label_table=raw.get("label_table"),
        start_date=_date(_require(raw, "start_date", path), f"{path}.start_date"),
        end_date=_date(end, f"{path}.end_date") if end else None,
        baseline=parse_window({"kind": "fixed", **_require(raw, "baseline", path)}, f"{path}.baseline"),
        reference=parse_window(_require(raw, "reference", path), f"{path}.reference"),
        columns=tuple(columns),
        text_output=text_output,
        prompt_text=prompt_text,
        prompt_context=prompt_context,
        drift=drift,
        expectations=parse_expectations(raw.get("expectations", {}) or {}, names, f"{path}.expectations"),
        guards=guards,
        alerts=parse_alerts(raw.get("alerts"), f"{path}.alerts"),
        performance=parse_performance(raw.get("performance"), raw.get("label_table"), names, f"{path}.performance"),
        multivariate=multivariate,
        drift_window=window,
        owners=parse_owners(raw.get("owners"), f"{path}.owners"),
        segments=parse_segments(raw.get("segments"), columns, f"{path}.segments"),
    )
    _reference_within(spec, path)
    return spec


def parse_segments(raw: Any, columns: list[MonitoredColumn], path: str) -> tuple[str, ...]:
    """The categorical features a model's drift is also judged per value of."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise ConfigError(f"{path}: expected a list of categorical feature names, e.g. [region, channel]")
    categorical = [c.name for c in columns if c.role == "feature" and c.kind is ColumnKind.CATEGORICAL]
    for column in raw:
        if column not in categorical:
            raise ConfigError(
                f"{path}: {column!r} is not a categorical feature of the model; segments are one of {categorical}"
            )
    if len(set(raw)) < len(raw):
        raise ConfigError(f"{path}: a column listed twice")
    return tuple(raw)


def _reference_within(model: ModelSpec, path: str) -> None:
    """A fixed reference's days are profiled as the model's own daily partitions, so they lie within its days."""
    window = model.reference
    if window.kind != "fixed":
        return
    after = model.end_date is not None and window.end >= model.end_date
    if window.start < model.start_date or after:
        days = f"from {model.start_date}" + (f" to {model.end_date} (exclusive)" if model.end_date else "")
        raise ConfigError(
            f"{path}.reference: {window.start} .. {window.end} is not within the model's days ({days}); a fixed "
            "reference is profiled as the model's own days: move it inside, or start_date back"
        )


OWNER = re.compile(r"^(team:[\w.-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$")


def parse_owners(raw: Any, path: str) -> tuple[str, ...]:
    """Owners as Dagster shows them: e-mail addresses or `team:NAME`."""
    owners = [raw] if isinstance(raw, str) else list(raw or [])
    for owner in owners:
        if not isinstance(owner, str) or not OWNER.match(owner):
            raise ConfigError(f"{path}: {owner!r} is not an owner; give an e-mail address or team:NAME")
    return tuple(owners)


def parse_multivariate(
    raw: Mapping[str, Any] | bool | None, columns: list[MonitoredColumn], path: str
) -> MultivariateSettings | None:
    """`multivariate: true` watches every numeric feature; a mapping may name `columns` and `explained`."""
    if not raw:
        return None
    raw = {} if raw is True else raw
    unknown = set(raw) - {"columns", "explained"}
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected columns, explained")
    numeric = [c.name for c in columns if c.role == "feature" and c.kind == ColumnKind.NUMERIC]
    chosen = tuple(raw.get("columns") or numeric)
    outside = [c for c in chosen if c not in numeric]
    if outside:
        raise ConfigError(f"{path}.columns: {outside} are not numeric features")
    if len(chosen) < 2:
        raise ConfigError(f"{path}.columns: needs at least two numeric features, got {list(chosen)}")
    explained = float(raw.get("explained", 0.65))
    if not 0 < explained < 1:
        raise ConfigError(f"{path}.explained: expected a share between 0 and 1, got {explained}")
    return MultivariateSettings(chosen, explained)


def parse_performance(
    raw: Mapping[str, Any] | None, label_table: str | None, monitored: list[str], path: str
) -> PerformanceSettings | None:
    if not raw:
        return None
    if not label_table:
        raw_path = path.rsplit(".", 1)[0]
        raise ConfigError(f"{raw_path}.label_table: required for performance monitoring")
    known = {
        *("task", "label_column", "positive_label", "score_column", "threshold", "segment", "band_k"),
        *("min_coverage", "alert_metrics"),
    }
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; expected {sorted(known)}")
    positive = (
        {"positive_label": label_text(raw["positive_label"], f"{path}.positive_label")}
        if "positive_label" in raw
        else {}
    )
    settings = PerformanceSettings(**{**raw, **positive, "alert_metrics": tuple(raw.get("alert_metrics") or ())})
    if settings.task not in ("classification", "regression"):
        raise ConfigError(f"{path}.task: expected classification or regression, got {settings.task!r}")
    offered = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}[settings.task]
    for metric in settings.alert_metrics:
        if metric not in offered:
            raise ConfigError(
                f"{path}.alert_metrics: {metric!r} is not a {settings.task} metric; expected one of {sorted(offered)}"
            )
    _finite(settings.threshold, f"{path}.threshold")
    _finite(settings.band_k, f"{path}.band_k", above=0)
    if not 0 < _finite(settings.min_coverage, f"{path}.min_coverage") <= 1:
        raise ConfigError(f"{path}.min_coverage: expected a share in (0, 1], got {settings.min_coverage}")
    if settings.task == "classification" and settings.positive_label is None:
        raise ConfigError(f"{path}.positive_label: required for a classifier")
    for key in ("score_column", "segment"):
        column = getattr(settings, key)
        if column is not None and column not in monitored:
            raise ConfigError(f"{path}.{key}: {column!r} is not a monitored column")
    return settings


def label_text(value: Any, path: str) -> str:
    """A label as text, the form labels are compared in whatever their column's type (`1`, `"1"` and an integer
    label 1 agree; `true` matches a boolean label)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    raise ConfigError(f"{path}: expected a label (text, a whole number or true/false), got {value!r}")


def _log_columns(monitored: list[str], outputs: Mapping[str, Any], prompt: Mapping[str, Any]) -> set[str]:
    """Columns a guard rule may read: the contract's own, the monitored ones and the text sources."""
    sources = {outputs.get("text"), prompt.get("text"), prompt.get("context")} - {None}
    return {"prediction_id", "model_name", "model_version", "event_ts", *monitored, *sources}


def parse_config(raw: Mapping[str, Any]) -> ProjectConfig:
    lake = _require(raw, "lake", "config")
    models = _require(raw, "models", "config")
    if not isinstance(models, Mapping) or not models:
        raise ConfigError("config.models: expected a mapping of model name -> model settings")
    profile = raw.get("profile", {}) or {}
    governance = raw.get("governance", {}) or {}
    _known_keys(
        governance, ("four_eyes", "require_eval", "owners", "identity", "allowed_signers", "roles"), "governance"
    )
    _known_keys(raw, ("lake", "models", "profile", "governance", "tickets"), "config")
    _known_keys(lake, ("root", "storage_options", "retention_days"), "lake")
    retention = lake.get("retention_days", RETENTION_DAYS)
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < MIN_RETENTION_DAYS:
        raise ConfigError(
            f"lake.retention_days: expected a whole number of days from {MIN_RETENTION_DAYS} (six months of history "
            f"for the audit trail), got {retention!r}"
        )
    return ProjectConfig(
        lake=LakeSpec(str(_require(lake, "root", "lake")), dict(lake.get("storage_options", {}) or {}), retention),
        models={name: parse_model(name, spec) for name, spec in models.items()},
        top_k=_positive_int(profile.get("top_k", DEFAULT_TOP_K), "profile.top_k"),
        vocab_cap=_positive_int(profile.get("vocab_cap", DEFAULT_VOCAB_CAP), "profile.vocab_cap"),
        governance=parse_governance(governance),
        tickets=parse_tickets(raw.get("tickets") or {}),
    )


def parse_governance(raw: Mapping[str, Any]) -> Governance:
    identity = raw.get("identity", CLAIMED)
    if identity not in (CLAIMED, SIGNED):
        raise ConfigError(f"governance.identity: expected {SIGNED!r} or {CLAIMED!r}, got {identity!r}")
    signers = raw.get("allowed_signers")
    if identity == SIGNED and not signers:
        raise ConfigError(
            "governance.allowed_signers: signed identities need an allowed signers file (one line per person: "
            "`name ssh-ed25519 AAAA...`, the format of git's gpg.ssh.allowedSignersFile)"
        )
    return Governance(
        four_eyes=bool(raw.get("four_eyes", True)),
        require_eval=bool(raw.get("require_eval", True)),
        owners=parse_owners(raw.get("owners"), "governance.owners"),
        identity=identity,
        allowed_signers=str(signers) if signers else None,
        roles=_parse_roles(raw.get("roles") or {}),
    )


def _parse_roles(raw: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    """verb -> a list of principals (every model) or a mapping model (or `*`) -> principals."""
    if not isinstance(raw, Mapping):
        raise ConfigError("governance.roles: expected a mapping of verb -> principals (or model -> principals)")
    _known_keys(raw, ROLE_VERBS, "governance.roles")
    roles = {}
    for verb, granted in raw.items():
        per_model = granted if isinstance(granted, Mapping) else {"*": granted}
        roles[verb] = {}
        for model, principals in per_model.items():
            if not isinstance(principals, list) or not all(isinstance(p, str) for p in principals):
                raise ConfigError(f"governance.roles.{verb}: expected a list of principal names for {model!r}")
            roles[verb][str(model)] = tuple(principals)
    return roles


def parse_tickets(raw: Mapping[str, Any]) -> TicketSettings:
    webhook = raw.get("webhook") or {}
    known = {"url", "format", "secret_env", "timeout_seconds", "max_attempts", "jira_project", "allow_private"}
    if "secret" in webhook:
        raise ConfigError("tickets.webhook.secret: secrets do not belong in the config; use secret_env")
    unknown = set(webhook) - known
    if unknown:
        raise ConfigError(f"tickets.webhook: unknown keys {sorted(unknown)}; expected {sorted(known)}")
    defaults = TicketSettings()
    return TicketSettings(
        webhook_url=webhook.get("url"),
        format=str(webhook.get("format", defaults.format)),
        secret_env=str(webhook.get("secret_env", defaults.secret_env)),
        timeout_seconds=_finite(
            webhook.get("timeout_seconds", defaults.timeout_seconds), "tickets.webhook.timeout_seconds", above=0
        ),
        max_attempts=_positive_int(webhook.get("max_attempts", defaults.max_attempts), "tickets.webhook.max_attempts"),
        jira_project=str(webhook.get("jira_project", defaults.jira_project)),
        allow_private=_flag(webhook.get("allow_private", False), "tickets.webhook.allow_private"),
    )


def _flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    return value
