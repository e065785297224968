from __future__ import annotations

from k8s_monitor.retry import RetryPolicy


def test_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, base_delay=0.5, max_delay=3.0)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.retries == 5


def test_a_servers_retry_after_is_believed_within_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.2, max_delay=2.0)
    assert policy.delay(0, retry_after=1.5) == 1.5
    assert policy.delay(0, retry_after=120.0) == 2.0  # a cycle must not sleep for minutes
    assert policy.delay(3, retry_after=-4.0) == 0.0


def test_one_attempt_means_no_retry() -> None:
    assert RetryPolicy(attempts=1).retries == 0
    assert RetryPolicy(attempts=0).retries == 0
