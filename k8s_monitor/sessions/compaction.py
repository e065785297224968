"""Compaction: one deterministic summary standing in for the turns a prune drops.

The summary names the cycles it replaces and the incidents seen in them (first and last seen,
how many cycles, resolved or not), taken from the incident ledger when the caller has one and
from message ``meta`` otherwise. Earlier summaries are folded into the new one, so repeated
prunes never stack summaries and old incidents stay remembered at a fraction of the tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from k8s_monitor.analysis.incidents import Incident, Ledger
from k8s_monitor.sessions.messages import (
    KIND_COMPACTION,
    KIND_COMPACTION_ACK,
    Message,
    meta_of,
)

MAX_LISTED_INCIDENTS = 30  # in the text the model reads
MAX_STORED_INCIDENTS = 200  # in meta, carried into later summaries
ACK_TEXT = "Understood. I will treat this summary as the record of those earlier cycles."

Entry = dict[str, Any]


def build_compaction(
    dropped: Sequence[Mapping[str, Any]],
    earlier_summaries: Sequence[Mapping[str, Any]],
    ledger: Ledger | None = None,
) -> list[Message]:
    """The summary turn (user message plus a fixed assistant acknowledgement) for ``dropped``."""
    cycles: set[int] = set()
    dropped_messages = len(dropped)
    incidents: dict[str, Entry] = {}
    for summary in earlier_summaries:
        earlier = meta_of(summary)
        cycles.update(_expand_ranges(earlier.get("cycles")))
        count = earlier.get("dropped_messages")
        dropped_messages += count if isinstance(count, int) else 0
        for entry in _entries(earlier.get("incidents")):
            _merge(incidents, entry)
    for entry in _entries_from_meta(dropped, cycles):
        _merge(incidents, entry)
    if ledger is not None:
        _apply_ledger(incidents, ledger, cycles)
    ordered = sorted(incidents.values(), key=_entry_order)
    stored = ordered[-MAX_STORED_INCIDENTS:]
    meta: dict[str, Any] = {
        "kind": KIND_COMPACTION,
        "cycles": _ranges(sorted(cycles)),
        "dropped_messages": dropped_messages,
        "incidents": stored,
    }
    text = _render(sorted(cycles), dropped_messages, ordered)
    return [
        {"role": "user", "content": text, "meta": meta},
        {"role": "assistant", "content": ACK_TEXT, "meta": {"kind": KIND_COMPACTION_ACK}},
    ]


def _entries_from_meta(dropped: Sequence[Mapping[str, Any]], cycles: set[int]) -> list[Entry]:
    """One entry per fingerprint named in dropped messages; adds their cycles to ``cycles``."""
    seen_in: dict[str, set[int]] = {}
    times: dict[str, list[str]] = {}
    for message in dropped:
        meta = meta_of(message)
        raw_cycle = meta.get("cycle")
        cycle = (
            raw_cycle if isinstance(raw_cycle, int) and not isinstance(raw_cycle, bool) else None
        )
        if cycle is not None:
            cycles.add(cycle)
        fingerprints = meta.get("fingerprints")
        if not isinstance(fingerprints, list):
            continue
        at = meta.get("at")
        for fingerprint in fingerprints:
            if not isinstance(fingerprint, str):
                continue
            seen = seen_in.setdefault(fingerprint, set())
            if cycle is not None:
                seen.add(cycle)
            if isinstance(at, str):
                times.setdefault(fingerprint, []).append(at)
    entries: list[Entry] = []
    for fingerprint, seen in seen_in.items():
        entry: Entry = {"fingerprint": fingerprint, "cycles": len(seen)}
        if seen:
            entry["first_cycle"], entry["last_cycle"] = min(seen), max(seen)
        if fingerprint in times:
            entry["first_seen"], entry["last_seen"] = (
                min(times[fingerprint]),
                max(times[fingerprint]),
            )
        entries.append(entry)
    return entries


def _merge(incidents: dict[str, Entry], entry: Entry) -> None:
    """Fold ``entry`` in; dropped cycles never repeat across prunes, so counts add up."""
    fingerprint = entry["fingerprint"]
    current = incidents.get(fingerprint)
    if current is None:
        incidents[fingerprint] = dict(entry)
        return
    current["cycles"] = int(current.get("cycles", 0)) + int(entry.get("cycles", 0))
    for key, pick in (("first_cycle", min), ("last_cycle", max)):
        if key in entry:
            current[key] = pick(current[key], entry[key]) if key in current else entry[key]
    for key, pick_text in (("first_seen", min), ("last_seen", max)):
        if key in entry:
            current[key] = pick_text(current[key], entry[key]) if key in current else entry[key]
    for key in ("subject", "reason", "severity", "status"):
        if key in entry:
            current[key] = entry[key]


def _apply_ledger(incidents: dict[str, Entry], ledger: Ledger, cycles: set[int]) -> None:
    low, high = (min(cycles), max(cycles)) if cycles else (None, None)
    for fingerprint, incident in ledger.incidents.items():
        overlaps = (
            low is not None
            and high is not None
            and (incident.first_cycle <= high and incident.last_cycle >= low)
        )
        if fingerprint in incidents or overlaps:
            incidents[fingerprint] = _ledger_entry(incident)


def _ledger_entry(incident: Incident) -> Entry:
    finding = incident.finding
    return {
        "fingerprint": incident.fingerprint,
        "subject": str(finding.subject),
        "reason": finding.reason,
        "severity": finding.severity.value,
        "status": incident.status.value,
        "first_cycle": incident.first_cycle,
        "last_cycle": incident.last_cycle,
        "cycles": incident.cycles_seen,
        "first_seen": incident.first_seen.isoformat(),
        "last_seen": incident.last_seen.isoformat(),
        # A finished investigation folds into its root cause: the tool turns can go.
        **({"root_cause": incident.root_cause.summary[:300]} if incident.root_cause else {}),
    }


def _entries(value: Any) -> Iterable[Entry]:
    if not isinstance(value, list):
        return []
    return [
        dict(item)
        for item in value
        if isinstance(item, dict) and isinstance(item.get("fingerprint"), str)
    ]


def _entry_order(entry: Entry) -> tuple[int, int, str]:
    first = entry.get("first_cycle")
    last = entry.get("last_cycle")
    return (
        first if isinstance(first, int) else -1,
        last if isinstance(last, int) else -1,
        str(entry["fingerprint"]),
    )


def _render(cycles: list[int], dropped_messages: int, incidents: list[Entry]) -> str:
    span = f" from cycles {_ranges_text(cycles)}" if cycles else ""
    lines = [
        f"[compacted history] {dropped_messages} earlier messages{span} were removed to stay "
        "within the context budget.",
    ]
    if not incidents:
        lines.append("No incidents were recorded in those messages.")
        return "\n".join(lines)
    lines.append("Incidents seen in those cycles (oldest first):")
    shown = incidents[-MAX_LISTED_INCIDENTS:]
    hidden = len(incidents) - len(shown)
    if hidden:
        lines.append(f"- ({hidden} older incidents not listed)")
    lines.extend(_render_entry(entry) for entry in shown)
    return "\n".join(lines)


def _render_entry(entry: Entry) -> str:
    head = " ".join(str(entry[key]) for key in ("severity", "reason", "subject") if entry.get(key))
    parts = [f"- {entry['fingerprint']}" + (f" {head}" if head else "")]
    if "first_cycle" in entry:
        parts.append(f"first seen cycle {entry['first_cycle']}")
    if "first_seen" in entry:
        parts.append(f"at {entry['first_seen']}")
    if "last_cycle" in entry:
        parts.append(f"last seen cycle {entry['last_cycle']}")
    parts.append(f"in {entry.get('cycles', 0)} cycles")
    parts.append(str(entry.get("status", "status unknown")))
    if entry.get("root_cause"):
        parts.append(f"root cause: {entry['root_cause']}")
    return ", ".join(parts)


def _ranges(values: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for value in values:
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1][1] = value
        else:
            ranges.append([value, value])
    return ranges


def _ranges_text(values: list[int]) -> str:
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in _ranges(values))


def _expand_ranges(value: Any) -> set[int]:
    cycles: set[int] = set()
    if not isinstance(value, list):
        return cycles
    for item in value:
        if (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
            and 0 <= item[1] - item[0] <= 1_000_000
        ):
            cycles.update(range(item[0], item[1] + 1))
    return cycles


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
