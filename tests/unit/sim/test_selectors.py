"""Label and field selectors: the apiserver's syntax and semantics."""

from __future__ import annotations

from typing import Any

import pytest

from k8s_monitor.sim.selectors import (
    SelectorError,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)


def obj(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "namespace": "ns", "labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),  # != matches objects without the label
        ("app in (web, db)", {"app": "db"}, True),
        ("app in (web,db)", {"app": "cache"}, False),
        ("app notin (web)", {}, True),
        ("app notin (web)", {"app": "web"}, False),
        ("app", {"app": ""}, True),
        ("!app", {"app": "web"}, False),
        ("!app", {"tier": "x"}, True),
        ("app=web,tier in (front,back)", {"app": "web", "tier": "back"}, True),
        ("app=web,tier in (front,back)", {"app": "web"}, False),
        ("app.kubernetes.io/name=ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, True),
        ("", {"anything": "goes"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert labels_match(parse_label_selector(selector), obj(**labels)) is expected


@pytest.mark.parametrize("selector", ["app in web", "app=(x", "=web", "app in (a b)"])
def test_invalid_label_selectors_are_rejected(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


EVENT = {
    "metadata": {"name": "e1", "namespace": "shop"},
    "involvedObject": {"kind": "Pod", "name": "checkout-1", "namespace": "shop"},
    "reason": "BackOff",
    "type": "Warning",
    "source": {"component": "kubelet"},
}
POD = {
    "metadata": {"name": "p", "namespace": "shop"},
    "spec": {"nodeName": "node-a"},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("resource", "selector", "target", "expected"),
    [
        ("events", "type=Warning", EVENT, True),
        ("events", "type=Normal", EVENT, False),
        ("events", "involvedObject.kind=Pod,involvedObject.name=checkout-1", EVENT, True),
        ("events", "involvedObject.namespace=payments", EVENT, False),
        ("events", "source=kubelet,reason==BackOff", EVENT, True),
        ("events", "metadata.namespace=shop", EVENT, True),
        ("pods", "status.phase!=Running", POD, False),
        ("pods", "status.phase!=Succeeded,status.phase!=Failed", POD, True),
        ("pods", "spec.nodeName=node-a", POD, True),
        ("pods", "spec.nodeName=", POD, False),
        ("pods", "spec.hostNetwork=false", POD, True),
        ("pods", "metadata.name=p", POD, True),
    ],
)
def test_field_selectors(
    resource: str, selector: str, target: dict[str, Any], expected: bool
) -> None:
    assert fields_match(parse_field_selector(selector, resource), target) is expected


def test_unsupported_field_is_rejected_like_the_apiserver() -> None:
    with pytest.raises(SelectorError, match=r"field label not supported: spec\.nodeName"):
        parse_field_selector("spec.nodeName=x", "events")
    with pytest.raises(SelectorError):
        parse_field_selector("status.phase", "pods")
