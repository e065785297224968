"""Incidents as Alertmanager alerts: labels, annotations and times; pure functions.

Labels identify an alert (Alertmanager groups, routes, silences and deduplicates on them), so
they hold only stable, low-cardinality values; everything that changes from cycle to cycle goes
into annotations. Values are sanitised here, before anything is sent: a label Alertmanager
refuses would reject the whole batch it travels in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from k8s_monitor.analysis.escalation import Escalation, Sev
from k8s_monitor.notify.messages import EVIDENCE_CHARS, AlertSpec, NotificationContext

PREFIX = "K8sMonitor"
WATCHDOG = f"{PREFIX}Watchdog"
# Labels every alert of this monitor carries: what it filters on when it asks for silences.
SOURCE_LABEL = "source"
SOURCE = "k8s-monitor"

MAX_LABEL_CHARS = 256
MAX_ANNOTATION_CHARS = 4_000
# An open incident's alert expires this many cycle intervals after it was last sent: a dead
# monitor's alerts resolve by themselves instead of firing forever.
ENDS_AFTER_INTERVALS = 3

SEVERITY = {Sev.SEV1: "critical", Sev.SEV2: "critical", Sev.SEV3: "warning", Sev.SEV4: "info"}

_WORD = re.compile(r"[A-Za-z0-9]+")
_OWN = re.compile(r"^Monitor[A-Z0-9]")
# Control, format, surrogate and separator characters: invisible, or invalid UTF-8 on the wire.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class AlertOptions:
    cluster: str
    ttl: timedelta
    generator_url: str = ""


def alertname(cause: str) -> str:
    """``CrashLoopBackOff`` -> ``K8sMonitorCrashLoopBackOff``; ``image-pull`` -> ``..ImagePull``."""
    camel = "".join(word[:1].upper() + word[1:] for word in _WORD.findall(cause)) or "Incident"
    # The monitor's own reasons (MonitorBlind) would read K8sMonitorMonitorBlind.
    if _OWN.match(camel):
        camel = camel.removeprefix("Monitor")
    return PREFIX + camel


def sanitise(value: str, limit: int = MAX_LABEL_CHARS, *, multiline: bool = False) -> str:
    """Printable text within ``limit`` characters; clipped values stay distinct (hash suffix)."""
    text = value if _printable(value, multiline) else _replace_unprintable(value, multiline)
    if not multiline and ("  " in text or text != text.strip()):
        text = " ".join(text.split())
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{text[: limit - 9]}~{digest}"


def _printable(text: str, multiline: bool) -> bool:
    # str.isprintable runs in C: the per-character walk below is only for odd text.
    return (text.replace("\n", "") if multiline else text).isprintable()


def _replace_unprintable(text: str, multiline: bool) -> str:
    kept = "\n" if multiline else ""
    return "".join(
        " " if ch not in kept and unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text
    )


def cause_of(escalation: Escalation) -> str:
    """What names the alert: the incident's root cause when it has one, else its reason."""
    return escalation.finding.reason


def labels_of(escalation: Escalation, cluster: str) -> dict[str, str]:
    subject = escalation.finding.subject
    labels = {
        "alertname": alertname(cause_of(escalation)),
        "severity": SEVERITY[escalation.sev],
        "cluster": cluster,
        "namespace": subject.namespace,
        "kind": subject.kind,
        "object": subject.name,
        "fingerprint": escalation.fingerprint,
        "service": escalation.service,
        SOURCE_LABEL: SOURCE,
    }
    # An empty value means "no such label" to Alertmanager; leave it out rather than send it.
    return {name: sanitise(value) for name, value in labels.items() if value}


def annotations_of(escalation: Escalation, context: NotificationContext) -> dict[str, str]:
    """Summary, description, evidence and runbook; the one place to add what an alert says."""
    finding = escalation.finding
    evidence = msgspec.json.encode(finding.evidence).decode() if finding.evidence else ""
    notes = {
        "summary": f"{escalation.sev.label} {finding.reason} {finding.subject}: {finding.message}",
        "description": context.summary or finding.message,
        "sev": escalation.sev.label,
        "why": "; ".join(escalation.why),
        "evidence": evidence[:EVIDENCE_CHARS],
        "owner": escalation.owner or "",
        "runbook_url": escalation.runbook_url or "",
    }
    return {
        name: sanitise(value, MAX_ANNOTATION_CHARS, multiline=True)
        for name, value in notes.items()
        if value
    }


def firing(
    escalation: Escalation, context: NotificationContext, now: datetime, options: AlertOptions
) -> AlertSpec:
    starts = min(escalation.incident.open_since, now)
    return AlertSpec(
        labels=labels_of(escalation, options.cluster),
        annotations=annotations_of(escalation, context),
        starts_at=starts,
        ends_at=now + options.ttl,
        generator_url=options.generator_url,
    )


def resolved(
    labels: dict[str, str], starts_at: datetime, now: datetime, options: AlertOptions
) -> AlertSpec:
    """The same labels ended now: Alertmanager marks the alert resolved."""
    return AlertSpec(
        labels=labels,
        annotations={"summary": f"resolved: {labels.get('alertname', '')}"},
        starts_at=min(starts_at, now),
        ends_at=now,
        generator_url=options.generator_url,
    )


def watchdog(now: datetime, options: AlertOptions) -> AlertSpec:
    """Always firing while the monitor completes cycles: the dead-man's switch."""
    return AlertSpec(
        labels={
            "alertname": WATCHDOG,
            "severity": "none",
            "cluster": sanitise(options.cluster),
            SOURCE_LABEL: SOURCE,
        },
        annotations={
            "summary": "k8s-monitor is completing cycles; this alert firing is the good news",
            "description": (
                "Route it to a dead-man's-switch receiver: it stops (expires) when the monitor "
                "stops completing cycles."
            ),
        },
        starts_at=now,
        ends_at=now + options.ttl,
        generator_url=options.generator_url,
    )
