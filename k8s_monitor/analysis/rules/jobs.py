"""Job rules: failed Jobs (grouped under their CronJob), Jobs that never finish, CronJobs that
stopped starting runs.

kubernetes-mixin equivalents: KubeJobFailed, KubeJobNotCompleted. A CronJob whose later run
succeeded is healthy again: its older failed Job is history, not a finding. A CronJob whose
schedule says a run should have started and did not (a stuck run under ``Forbid``, a controller
that gave up after too many missed starts, every run refused by a quota) fails silently: no
Job, no pod, nothing else to see.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from k8s_monitor.analysis.findings import Finding, ObjectRef, Severity
from k8s_monitor.analysis.rules.context import (
    RuleContext,
    condition,
    event_evidence,
    iso,
    make_finding,
    ref,
)
from k8s_monitor.analysis.rules.cron import CronError, parse_schedule
from k8s_monitor.analysis.rules.messages import failed_create_cause
from k8s_monitor.cluster.snapshot import CronJob, Job, Pod

NOT_COMPLETED_AFTER = timedelta(hours=12)
# The controller starts a run within seconds; a few minutes late is a busy controller, not news.
MISSED_RUN_GRACE = timedelta(minutes=5)
CRONJOB_EVENTS = frozenset(
    {"FailedCreate", "TooManyMissedTimes", "FailedNeedsStart", "MissSchedule"}
)
DEFAULT_BACKOFF_LIMIT = 6
# Jobs a CronJob creates are named "<cronjob>-<scheduled time in minutes>".
_CRONJOB_JOB_NAME = re.compile(r"^(?P<cronjob>.+)-\d{8,}$")


def _finished_at(job: Job) -> datetime | None:
    failed = condition(job.status.conditions, "Failed")
    if failed is not None and failed.status == "True":
        return failed.last_transition_time or job.status.start_time
    return job.status.completion_time


def _succeeded(job: Job) -> bool:
    complete = condition(job.status.conditions, "Complete")
    return complete is not None and complete.status == "True"


def _recovered_since(
    job: Job, root: ObjectRef, failed_at: datetime | None, ctx: RuleContext
) -> bool:
    """A later run of the same CronJob succeeded, or the CronJob says so."""
    if root.kind != "CronJob":
        return False
    for other in ctx.snapshot.jobs:
        if other is job or not _succeeded(other):
            continue
        if ctx.owners.root_of("Job", other.metadata) != root:
            continue
        done = other.status.completion_time
        if failed_at is None or done is None or done >= failed_at:
            return True
    for cron in ctx.snapshot.cronjobs:
        if cron.metadata.namespace == root.namespace and cron.metadata.name == root.name:
            last_ok = cron.status.last_successful_time
            return last_ok is not None and failed_at is not None and last_ok >= failed_at
    return False


def _failed_pods(job: Job, ctx: RuleContext) -> list[Pod]:
    return sorted(
        (
            pod
            for pod in ctx.snapshot.pods
            if pod.metadata.namespace == job.metadata.namespace
            and (ref_ := pod.metadata.controller_ref()) is not None
            and ref_.kind == "Job"
            and ref_.name == job.metadata.name
            and pod.status.phase == "Failed"
        ),
        key=lambda p: p.metadata.name,
    )


class _Failure(NamedTuple):
    reason: str
    message: str


def _failure(job: Job) -> _Failure | None:
    """The Failed condition; or, for dumps taken before the controller set it, the counts."""
    failed = condition(job.status.conditions, "Failed")
    if failed is not None:
        return _Failure(failed.reason, failed.message) if failed.status == "True" else None
    limit = DEFAULT_BACKOFF_LIMIT if job.spec.backoff_limit is None else job.spec.backoff_limit
    if job.status.active == 0 and not _succeeded(job) and job.status.failed > limit:
        return _Failure(
            "BackoffLimitExceeded", f"{job.status.failed} pods failed, backoff limit {limit}"
        )
    return None


def check_job_failed(job: Job, ctx: RuleContext) -> list[Finding]:
    failed = _failure(job)
    if failed is None:
        return []
    meta = job.metadata
    root = ctx.owners.root_of("Job", meta)
    failed_at = _finished_at(job)
    if _recovered_since(job, root, failed_at, ctx):
        return []
    pods = _failed_pods(job, ctx)
    exit_codes = {
        f"{p.metadata.name}/{s.name}": s.state.terminated.exit_code
        for p in pods
        for s in p.status.container_statuses
        if s.state.terminated is not None
    }
    excerpt = next(
        (
            text
            for p in pods
            for s in p.status.container_statuses
            if (text := ctx.log_excerpt(p, s.name))
        ),
        None,
    )
    message = f"job {meta.name} failed ({failed.reason or 'Failed'}): {failed.message[:300]}"
    evidence = {
        "job": meta.name,
        "reason": failed.reason or None,
        "message": failed.message[:500] or None,
        "failed_pods": job.status.failed,
        "backoff_limit": job.spec.backoff_limit,
        "failed_at": iso(failed_at),
        "exit_codes": exit_codes or None,
        "log_excerpt": excerpt,
        "events": event_evidence(ctx.recent_events("Job", meta.namespace, meta.name)) or None,
    }
    objects = (
        *([root] if root.kind == "CronJob" else []),
        ref("Job", meta.namespace, meta.name),
        *(ref("Pod", meta.namespace, p.metadata.name) for p in pods),
    )
    return [make_finding(root, "JobFailed", Severity.WARNING, message, evidence, objects)]


def check_job_not_completed(job: Job, ctx: RuleContext) -> list[Finding]:
    if job.spec.suspend or job.status.active == 0 or job.status.completion_time is not None:
        return []
    if condition(job.status.conditions, "Failed") is not None or _succeeded(job):
        return []
    started = job.status.start_time
    if started is None or not ctx.older_than(started, NOT_COMPLETED_AFTER):
        return []
    meta = job.metadata
    root = ctx.owners.root_of("Job", meta)
    message = f"job {meta.name} has been running since {started.isoformat()} without completing"
    evidence = {"job": meta.name, "started": iso(started), "active": job.status.active}
    objects = (*([root] if root.kind == "CronJob" else []), ref("Job", meta.namespace, meta.name))
    return [make_finding(root, "JobNotCompleted", Severity.WARNING, message, evidence, objects)]


def check_failed_job_pods(ctx: RuleContext) -> list[Finding]:
    """Failed Job pods in a snapshot that holds no Jobs at all (a ``kubectl get pods`` dump)."""
    if ctx.snapshot.jobs:
        return []
    by_job: dict[tuple[str, str], list[Pod]] = {}
    for pod in ctx.snapshot.pods:
        owner = pod.metadata.controller_ref()
        if owner is None or owner.kind != "Job" or pod.status.phase != "Failed":
            continue
        by_job.setdefault((pod.metadata.namespace, owner.name), []).append(pod)
    found: list[Finding] = []
    for (namespace, name), unsorted in sorted(by_job.items()):
        pods = sorted(unsorted, key=lambda p: p.metadata.name)
        cron = _CRONJOB_JOB_NAME.match(name)
        job_ref = ref("Job", namespace, name)
        subject = ref("CronJob", namespace, cron.group("cronjob")) if cron else job_ref
        exit_codes = {
            f"{p.metadata.name}/{s.name}": s.state.terminated.exit_code
            for p in pods
            for s in p.status.container_statuses
            if s.state.terminated is not None
        }
        codes = sorted(set(exit_codes.values()))
        message = f"{len(pods)} pod(s) of job {name} failed, exit codes {codes}"
        evidence = {"job": name, "exit_codes": exit_codes or None, "source": "pods"}
        objects = (
            *([subject] if cron else []),
            job_ref,
            *(ref("Pod", namespace, p.metadata.name) for p in pods),
        )
        found.append(
            make_finding(subject, "JobFailed", Severity.WARNING, message, evidence, objects)
        )
    return found


def _zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC  # the apiserver validates the zone; a host without tzdata falls back


def check_cronjob_schedule(cron: CronJob, ctx: RuleContext) -> list[Finding]:
    """A run the schedule called for (more than a grace ago) never started."""
    spec, status, meta = cron.spec, cron.status, cron.metadata
    if spec.suspend or not spec.schedule:
        return []
    try:
        schedule = parse_schedule(spec.schedule)
    except CronError:
        return []  # the apiserver rejects such schedules; nothing runs, nothing to compare
    due = schedule.previous((ctx.now - MISSED_RUN_GRACE).astimezone(_zone(spec.time_zone)))
    if due is None or (meta.creation_timestamp is not None and meta.creation_timestamp > due):
        return []
    last = status.last_schedule_time
    if last is not None and last >= due:
        return []
    events = ctx.recent_events("CronJob", meta.namespace, meta.name, CRONJOB_EVENTS)
    blocked_by = (
        f"run {status.active[0].name} is still active and concurrencyPolicy is Forbid"
        if status.active and spec.concurrency_policy == "Forbid"
        else None
    )
    why = blocked_by or (events[-1].message[:200] if events else "no run was started")
    message = (
        f"cronjob {meta.name} ({spec.schedule}) missed its run due {due.isoformat()}; last run"
        f" {last.isoformat() if last else 'never'}: {why}"
    )
    evidence = {
        "schedule": spec.schedule,
        "time_zone": spec.time_zone,
        "due": iso(due),
        "last_schedule_time": iso(last),
        "active_jobs": [a.name for a in status.active] or None,
        "concurrency_policy": spec.concurrency_policy or None,
        "events": event_evidence(events) or None,
    }
    refused = [e for e in events if e.reason == "FailedCreate"]
    cause = failed_create_cause(refused[-1].message, meta.namespace) if refused else None
    subject = ref("CronJob", meta.namespace, meta.name)
    return [
        make_finding(
            subject, "CronJobNotScheduling", Severity.WARNING, message, evidence, caused_by=cause
        )
    ]


def job_findings(ctx: RuleContext) -> list[Finding]:
    found: list[Finding] = []
    for job in ctx.snapshot.jobs:
        found += check_job_failed(job, ctx)
        found += check_job_not_completed(job, ctx)
    found += check_failed_job_pods(ctx)
    for cron in ctx.snapshot.cronjobs:
        found += check_cronjob_schedule(cron, ctx)
    return found
