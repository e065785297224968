"""Objects the apiserver sends unchanged are carried over; anything changed is decoded and
cleaned again, and nothing reaches a snapshot without passing the redaction boundary."""

from __future__ import annotations

import json
from typing import Any

from k8s_monitor.cluster import resources as res
from k8s_monitor.cluster.carryover import Carryover, ListPass
from k8s_monitor.cluster.sanitize import sanitize
from k8s_monitor.cluster.snapshot import Event, Pod
from k8s_monitor.redaction import Redactor
from tests.unit.cluster import objects as o

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def _page(*items: Any) -> bytes:
    return json.dumps({"kind": "PodList", "metadata": {}, "items": list(items)}).encode()


class _Boundary:
    """The collector's boundary, counting the objects it cleans."""

    def __init__(self) -> None:
        self.redactor = Redactor()
        self.cleaned: list[Any] = []

    def __call__(self, item: Any) -> None:
        sanitize(item, self.redactor)
        self.cleaned.append(item)


def _keep(_item: Any) -> bool:
    return True


def _pods(count: int) -> list[dict[str, Any]]:
    return [o.pod(f"api-{n}", annotations={"note": f"build {n}"}) for n in range(count)]


def test_unchanged_objects_are_last_cycles_objects_and_are_not_cleaned_again() -> None:
    boundary, body = _Boundary(), _page(*_pods(3))
    table = ListPass({})
    first = table.take(body, Pod, _keep, boundary)

    again = ListPass(table.current).take(body, Pod, _keep, boundary)

    assert [a is b for a, b in zip(again.items, first.items, strict=True)] == [True] * 3
    assert again.fresh == [] and len(boundary.cleaned) == 3


def test_a_changed_object_is_decoded_and_cleaned_its_neighbours_carried() -> None:
    boundary, pods = _Boundary(), _pods(3)
    table = ListPass({})
    first = table.take(_page(*pods), Pod, _keep, boundary)
    pods[1]["metadata"]["annotations"]["note"] = f"token={SECRET}"

    again = ListPass(table.current).take(_page(*pods), Pod, _keep, boundary)

    assert again.fresh == [again.items[1]]
    assert again.items[0] is first.items[0] and again.items[2] is first.items[2]
    assert SECRET not in again.items[1].metadata.annotations["note"]
    assert "[REDACTED:" in again.items[1].metadata.annotations["note"]


def test_a_carried_object_is_asked_again_whether_it_is_wanted() -> None:
    # Warning events leave the time window while their bytes stay the same.
    boundary, body = _Boundary(), _page(o.event("e1"), o.event("e2"))
    table = ListPass({})
    table.take(body, Event, _keep, boundary)

    again = ListPass(table.current)
    taken = again.take(body, Event, lambda ev: ev.metadata.name == "e2", boundary)

    assert [ev.metadata.name for ev in taken.items] == ["e2"]
    assert len(again.current) == 1  # what was dropped is not carried to the next cycle


def test_an_object_that_does_not_fit_is_counted_and_the_rest_taken() -> None:
    odd = o.pod("odd")
    odd["spec"]["containers"] = "not a list"
    taken = ListPass({}).take(_page(o.pod("a"), None, odd, o.pod("b")), Pod, _keep, _Boundary())

    assert [pod.metadata.name for pod in taken.items] == ["a", "b"]
    assert taken.skipped == 2


def test_a_page_that_does_not_split_is_decoded_whole_cleaned_and_carries_nothing() -> None:
    # A lone surrogate escape: the item splitter refuses the page, the page decoder repairs it.
    body = _page(o.pod("a")).replace(b'"a"', b'"a\\ud800"', 1)
    boundary = _Boundary()
    list_pass = ListPass({})

    taken = list_pass.take(body, Pod, _keep, boundary)

    assert taken.items[0].metadata.name == "a\ufffd"
    assert boundary.cleaned == taken.items == taken.fresh
    assert list_pass.current == {}


def test_a_list_that_did_not_complete_keeps_its_last_complete_table() -> None:
    carryover, boundary = Carryover(), _Boundary()
    done = carryover.begin(res.PODS, None)
    done.take(_page(*_pods(2)), Pod, _keep, boundary)
    carryover.complete(res.PODS, None, done)

    broken = carryover.begin(res.PODS, None)
    broken.take(_page(*_pods(1)), Pod, _keep, boundary)  # then the list failed: no complete()

    assert carryover.begin(res.PODS, None).previous == done.current
    assert carryover.begin(res.PODS, "other").previous == {}
    assert len(done.current) == 2
