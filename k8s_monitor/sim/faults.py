"""Fault injection per resource: RBAC refusals, server errors, slowness, expired continues."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from k8s_monitor.sim.api import DEFAULT_USER


@dataclass
class FaultRule:
    resource: str | None  # plural ("pods", "pods/log", "deployments"); None matches everything
    status: int | None
    delay_seconds: float
    remaining: int | None  # None: until cleared
    namespace: str | None
    user: str

    @property
    def continue_only(self) -> bool:
        # 410 is what an expired continue token gets; a first page never sees it.
        return self.status == 410


class Faults:
    """The server's fault table. Thread-safe; the first matching rule applies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def set(
        self,
        resource: str | None = None,
        status: int | None = None,
        *,
        delay_seconds: float = 0.0,
        count: int | None = None,
        namespace: str | None = None,
        user: str = DEFAULT_USER,
    ) -> None:
        """Make requests for ``resource`` fail with ``status`` and/or answer after a delay.

        ``resource`` is the plural ("pods", "deployments" or "deployments.apps"), "pods/log" for
        logs, "nodes.metrics.k8s.io"/"pods.metrics.k8s.io" for metrics, or None for every
        request. ``count`` limits how many requests the rule hits; ``status=410`` applies to
        requests carrying a continue token only. 403 answers with the RBAC message naming the
        resource and ``user``. A new rule for the same resource replaces the old one.
        """
        if status is None and delay_seconds <= 0:
            raise ValueError("a fault needs a status, a delay, or both")
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"fault status must be an HTTP error code, got {status}")
        key = None if resource in (None, "*") else resource
        rule = FaultRule(key, status, delay_seconds, count, namespace, user)
        with self._lock:
            self._rules = [r for r in self._rules if (r.resource, r.namespace) != (key, namespace)]
            self._rules.append(rule)

    def clear(self, resource: str | None = None) -> None:
        """Remove every rule, or only those for ``resource``."""
        with self._lock:
            if resource is None:
                self._rules = []
            else:
                self._rules = [r for r in self._rules if r.resource != resource]

    @property
    def active(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(
        self, names: tuple[str, ...], namespace: str | None, is_continue: bool
    ) -> FaultRule | None:
        """The rule that hits this request (known by any of ``names``), consuming one count."""
        with self._lock:
            for rule in self._rules:
                if rule.resource is not None and rule.resource not in names:
                    continue
                if rule.namespace is not None and rule.namespace != namespace:
                    continue
                if rule.continue_only and not is_continue:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule
        return None
