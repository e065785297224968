"""Notifications as data, and how each sink renders them (Slack Block Kit, generic JSON).

A notification is built once, gets an idempotency key, and is stored as-is in the spool when a
sink fails, so a retry next cycle sends the very same bytes with the very same key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
from msgspec import Struct
from msgspec import field as struct_field

from k8s_monitor.analysis.escalation import Escalation
from k8s_monitor.analysis.incidents import Incident
from k8s_monitor.report import RootRecord

MAX_ITEMS = 20
MAX_SYMPTOMS = 12  # symptoms listed by name; the rest are counted
EVIDENCE_CHARS = 1_200
SLACK_TEXT_LIMIT = 2_900  # Slack rejects section text over 3000 characters
SLACK_HEADER_LIMIT = 150


class Kind(StrEnum):
    ALERT = "alert"
    DIGEST = "digest"
    RESOLVED = "resolved"
    ALERTS = "alerts"  # Alertmanager alerts: the state of every open incident, each cycle
    ROOT_CAUSE = "root_cause"  # a root cause found after the incident was paged


CHAT_KINDS = frozenset({Kind.ALERT, Kind.DIGEST, Kind.RESOLVED, Kind.ROOT_CAUSE})


class NotificationContext(Struct, kw_only=True):
    cluster: str
    cycle: int
    summary: str | None = None
    actions: list[str] = []


class Item(Struct, kw_only=True):
    fingerprint: str
    sev: str
    reason: str
    subject: str
    message: str
    status: str
    since: str
    service: str = ""
    owner: str | None = None
    channel: str | None = None
    evidence: dict[str, Any] = {}
    # The incident's root cause object, {kind, namespace, name, reason, summary}; the symptoms
    # it explains as "Reason Kind/ns/name" lines (at most MAX_SYMPTOMS) and their total count.
    cause: RootRecord | None = None
    symptoms: list[str] = []
    symptom_count: int = 0
    root_cause: str | None = None  # from an investigation: summary (confidence)
    next_steps: list[str] = []


class AlertSpec(Struct, kw_only=True, omit_defaults=True):
    """One alert as Alertmanager's ``POST /api/v2/alerts`` takes it (field names are its own)."""

    labels: dict[str, str]
    annotations: dict[str, str] = {}
    starts_at: datetime = struct_field(name="startsAt")
    ends_at: datetime = struct_field(name="endsAt")
    generator_url: str = struct_field(default="", name="generatorURL")


class Notification(Struct, kw_only=True):
    key: str  # idempotency key: sent as a header, stable across retries
    kind: Kind
    sev: int  # 1..4; for "resolved", the worst level that was notified
    cluster: str
    cycle: int
    created_at: datetime
    title: str
    items: list[Item]
    summary: str | None = None
    actions: list[str] = []
    alerts: list[AlertSpec] = []  # Kind.ALERTS only

    @property
    def sev_label(self) -> str:
        return f"SEV-{self.sev}"


def _key(kind: Kind, context: NotificationContext, created: datetime, parts: list[str]) -> str:
    raw = "|".join([context.cluster, kind.value, str(context.cycle), created.isoformat(), *parts])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence trimmed to what fits a chat message; the report keeps the rest."""
    trimmed: dict[str, Any] = {}
    used = 0
    for name, value in evidence.items():
        text = msgspec.json.encode(value).decode()
        if used + len(text) > EVIDENCE_CHARS:
            trimmed[name] = text[: max(EVIDENCE_CHARS - used, 0)] + "..."
            break
        trimmed[name] = value
        used += len(text)
    return trimmed


def _symptom_lines(incident: Incident) -> list[str]:
    return [f"{s.reason} {s.subject}" for s in incident.symptoms[:MAX_SYMPTOMS]]


def _cause(incident: Incident) -> RootRecord | None:
    return incident.cause_root.to_json() if incident.cause_root is not None else None


def item_of(escalation: Escalation) -> Item:
    finding, incident = escalation.finding, escalation.incident
    return Item(
        fingerprint=escalation.fingerprint,
        sev=escalation.sev.label,
        reason=finding.reason,
        subject=str(finding.subject),
        message=finding.message,
        status=incident.status.value,
        since=incident.open_since.isoformat(),
        service=escalation.service,
        owner=escalation.owner,
        channel=escalation.channel,
        evidence=_evidence(finding.evidence),
        cause=_cause(incident),
        symptoms=_symptom_lines(incident),
        symptom_count=len(incident.symptoms),
        root_cause=(
            f"{incident.root_cause.summary} (confidence {incident.root_cause.confidence})"
            if incident.root_cause is not None
            else None
        ),
        next_steps=list(incident.root_cause.next_steps[:5]) if incident.root_cause else [],
    )


def resolved_item_of(incident: Incident, notified_sev: int) -> Item:
    finding = incident.finding
    return Item(
        fingerprint=incident.fingerprint,
        sev=f"SEV-{notified_sev}",
        reason=finding.reason,
        subject=str(finding.subject),
        message=f"resolved: {finding.message}",
        status=incident.status.value,
        since=incident.open_since.isoformat(),
        cause=_cause(incident),
        symptoms=_symptom_lines(incident),
        symptom_count=len(incident.symptoms),
    )


def alert(escalation: Escalation, context: NotificationContext, created: datetime) -> Notification:
    item = item_of(escalation)
    return Notification(
        key=_key(Kind.ALERT, context, created, [f"{item.fingerprint}:{item.sev}"]),
        kind=Kind.ALERT,
        sev=escalation.sev.value,
        cluster=context.cluster,
        cycle=context.cycle,
        created_at=created,
        title=_alert_title(item),
        items=[item],
        summary=context.summary,
        actions=list(context.actions),
    )


def _alert_title(item: Item) -> str:
    """The root cause first; how many symptoms it explains after."""
    title = f"{item.sev} {item.reason} {item.subject}"
    if item.symptom_count:
        noun = "symptom" if item.symptom_count == 1 else "symptoms"
        title += f" (root cause of {item.symptom_count} {noun})"
    return title


def digest(
    escalations: list[Escalation], context: NotificationContext, created: datetime
) -> Notification:
    items = [item_of(e) for e in escalations]
    worst = min(e.sev for e in escalations)
    return Notification(
        key=_key(Kind.DIGEST, context, created, [f"{i.fingerprint}:{i.sev}" for i in items]),
        kind=Kind.DIGEST,
        sev=worst.value,
        cluster=context.cluster,
        cycle=context.cycle,
        created_at=created,
        title=f"{len(items)} incident(s) for the {worst.label} digest",
        items=items,
        summary=context.summary,
        actions=list(context.actions),
    )


def root_cause_notice(
    escalations: list[Escalation], context: NotificationContext, created: datetime
) -> Notification:
    """Root causes found by investigations for incidents already paged without one."""
    items = [item_of(e) for e in escalations]
    worst = min(e.sev for e in escalations)
    return Notification(
        key=_key(Kind.ROOT_CAUSE, context, created, [i.fingerprint for i in items]),
        kind=Kind.ROOT_CAUSE,
        sev=worst.value,
        cluster=context.cluster,
        cycle=context.cycle,
        created_at=created,
        title=f"root cause found: {len(items)} incident(s)",
        items=items,
        summary=context.summary,
    )


def resolved_notice(
    incidents: list[tuple[Incident, int]], context: NotificationContext, created: datetime
) -> Notification:
    items = [resolved_item_of(incident, sev) for incident, sev in incidents]
    return Notification(
        key=_key(Kind.RESOLVED, context, created, [i.fingerprint for i in items]),
        kind=Kind.RESOLVED,
        sev=min(sev for _, sev in incidents),
        cluster=context.cluster,
        cycle=context.cycle,
        created_at=created,
        title=f"resolved: {len(items)} incident(s)",
        items=items,
    )


def alerts_notice(
    alerts: list[AlertSpec], context: NotificationContext, created: datetime
) -> Notification:
    """Alerts for Alertmanager, spooled and retried like any notification."""
    parts = [f"{a.labels.get('fingerprint', '')}:{a.ends_at.isoformat()}" for a in alerts]
    return Notification(
        key=_key(Kind.ALERTS, context, created, parts),
        kind=Kind.ALERTS,
        sev=4,
        cluster=context.cluster,
        cycle=context.cycle,
        created_at=created,
        title=f"{len(alerts)} alert(s) for Alertmanager",
        items=[],
        alerts=alerts,
    )


# --- rendering -------------------------------------------------------------------------------


def webhook_payload(message: Notification) -> bytes:
    """The generic JSON webhook body: the notification itself."""
    return msgspec.json.encode(message)


def _escape(text: str) -> str:
    # Logs and events are untrusted: without escaping, "<!channel>" in a log line pings everyone.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_TEXT_LIMIT)}}


def _item_blocks(item: Item, detailed: bool) -> list[dict[str, Any]]:
    head = (
        f"*{item.sev}* `{item.reason}` {_escape(item.subject)} ({item.status}, since {item.since})"
    )
    routing = " | ".join(
        f"{label}: {_escape(value)}"
        for label, value in (
            ("service", item.service),
            ("owner", item.owner),
            ("channel", item.channel),
        )
        if value
    )
    body = f"{head}\n{_escape(item.message)}" + (f"\n{routing}" if routing else "")
    if item.cause is not None and item.symptom_count:
        root = item.cause
        where = "/".join(p for p in (root.kind, root.namespace, root.name) if p)
        body = (
            f"*Root cause* `{_escape(root.reason)}` {_escape(where)}: "
            f"{_escape(root.summary)}\n{body}\n{_symptoms_text(item)}"
        )
    if item.root_cause:
        body += f"\n*Investigation*: {_escape(item.root_cause)}"
        if detailed and item.next_steps:
            body += "\n" + "\n".join(f"`{_escape(step)}`" for step in item.next_steps)
    blocks = [_section(body)]
    if detailed and item.evidence:
        evidence = _escape(msgspec.json.format(msgspec.json.encode(item.evidence)).decode())
        blocks.append(_section(f"*Evidence*\n```{_clip(evidence, SLACK_TEXT_LIMIT - 20)}```"))
    return blocks


def _symptoms_text(item: Item) -> str:
    listed = ", ".join(_escape(line) for line in item.symptoms)
    more = item.symptom_count - len(item.symptoms)
    return f"*Symptoms ({item.symptom_count})*: {listed}" + (f" and {more} more" if more else "")


def slack_payload(message: Notification) -> bytes:
    """Slack incoming-webhook body in Block Kit, with a plain ``text`` fallback."""
    header = _clip(f"{message.title} | {message.cluster}", SLACK_HEADER_LIMIT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Severity*\n{message.sev_label}"},
                {"type": "mrkdwn", "text": f"*Cluster*\n{_escape(message.cluster)}"},
                {"type": "mrkdwn", "text": f"*Kind*\n{message.kind.value}"},
                {"type": "mrkdwn", "text": f"*Cycle*\n{message.cycle}"},
            ],
        },
    ]
    detailed = message.kind in (Kind.ALERT, Kind.ROOT_CAUSE)
    for item in message.items[:MAX_ITEMS]:
        blocks.extend(_item_blocks(item, detailed))
    if len(message.items) > MAX_ITEMS:
        blocks.append(_section(f"and {len(message.items) - MAX_ITEMS} more"))
    if message.summary:
        blocks.append(_section(f"*Summary*\n{_escape(message.summary)}"))
    if message.actions:
        actions = "\n".join(f"- {_escape(a)}" for a in message.actions[:10])
        blocks.append(_section(f"*Actions*\n{actions}"))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"k8s-monitor | key {message.key}"}],
        }
    )
    body = {"text": _clip(f"{message.title} ({message.cluster})", 300), "blocks": blocks[:50]}
    return msgspec.json.encode(body)
