"""CronJobs and Jobs: a CronJob keeps its last three scheduled Jobs, each Job owns its pods.

A failed Job ran its pod twice (backoff limit 1) and records BackoffLimitExceeded.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from k8s_monitor.sim import objects as o
from k8s_monitor.sim.render import faults
from k8s_monitor.sim.render.context import JSON, RenderContext
from k8s_monitor.sim.render.events import event
from k8s_monitor.sim.render.pod_plan import PodPlan
from k8s_monitor.sim.render.pods import emit_pod
from k8s_monitor.sim.render.templates import applied_meta, pod_template, workload_labels
from k8s_monitor.sim.world import WorkloadState


def cronjob(ctx: RenderContext, workload: WorkloadState) -> None:
    """The Jobs of the last three scheduled runs (none once the apiserver refuses them)."""
    spec = workload.spec
    uid = o.make_uid("CronJob", spec.namespace, spec.name)
    period = _schedule_period_minutes(spec.schedule) * 60
    now_epoch = ctx.now.timestamp()
    last_run = math.floor(now_epoch / period) * period
    runs = [last_run - k * period for k in (2, 1, 0)]
    owner = o.owner_ref("batch/v1", "CronJob", spec.name, uid)
    last_success: float | None = None
    refused_from = faults.runs_refused_from(ctx, workload)
    for run in runs:
        offset = ctx.now_offset - (now_epoch - run)
        if offset < workload.created or run >= refused_from:
            continue
        name = f"{spec.name}-{int(run // 60)}"
        failed = (
            workload.job_failure is not None
            and run == runs[-1]
            and workload.job_failure.since <= ctx.now_offset
        )
        moment = datetime.fromtimestamp(run, tz=ctx.now.tzinfo)
        job(ctx, workload, owner, name, moment, offset, failed=failed)
        if not failed:
            last_success = run
    scheduled = runs[-1] if runs[-1] < refused_from else refused_from - 1
    scheduled = math.floor(scheduled / period) * period
    status: JSON = {"lastScheduleTime": o.ts(datetime.fromtimestamp(scheduled, tz=ctx.now.tzinfo))}
    faults.refused_runs(ctx, workload, uid, refused_from, period)
    if last_success is not None:
        status["lastSuccessfulTime"] = o.ts(
            datetime.fromtimestamp(last_success + 40, tz=ctx.now.tzinfo)
        )
    ctx.out.add(
        "cronjobs",
        {
            "metadata": applied_meta(ctx, workload, uid, workload_labels(spec), generation=1),
            "spec": {
                "schedule": spec.schedule,
                "concurrencyPolicy": "Forbid",
                "suspend": False,
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 1,
                        "template": pod_template(spec, workload_labels(spec), spec.image),
                    }
                },
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
            },
            "status": status,
        },
    )


def job(
    ctx: RenderContext,
    workload: WorkloadState,
    owner: JSON | None,
    name: str,
    started: datetime,
    offset: float,
    *,
    failed: bool | None = None,
) -> None:
    """Job ``name`` started at ``started`` (scenario offset ``offset``) with its pods.

    ``failed`` defaults to whether the workload has a job failure.
    """
    spec = workload.spec
    if failed is None:
        failed = workload.job_failure is not None
    uid = o.make_uid("Job", spec.namespace, name)
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    attempts = 2 if failed else 1
    for attempt in range(attempts):
        pod = PodPlan(
            workload=workload,
            name=f"{name}-{o.name_suffix(5, name, str(attempt))}",
            owner=o.owner_ref("batch/v1", "Job", name, uid),
            labels=labels,
            image=spec.image,
            created=offset + attempt * 15,
            node=None,
            state="failed" if failed else "completed",
            since=offset + attempt * 15,
            exit_code=workload.job_failure.exit_code if failed and workload.job_failure else 0,
        )
        emit_pod(ctx, pod)
    finished = started + timedelta(seconds=40)
    if failed:
        conditions = [
            o.condition(
                "FailureTarget",
                "True",
                finished,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                probe_time=True,
            ),
            o.condition(
                "Failed",
                "True",
                finished,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                probe_time=True,
            ),
        ]
        status: JSON = {"conditions": conditions, "startTime": o.ts(started), "failed": 2}
        event(
            ctx,
            "Job",
            spec.namespace,
            name,
            uid,
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            "Warning",
            offset + 40,
            offset + 40,
            1,
            "job-controller",
            api_version="batch/v1",
        )
    else:
        conditions = [
            o.condition(
                "SuccessCriteriaMet",
                "True",
                finished,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                probe_time=True,
            ),
            o.condition(
                "Complete",
                "True",
                finished,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                probe_time=True,
            ),
        ]
        status = {
            "conditions": conditions,
            "startTime": o.ts(started),
            "completionTime": o.ts(finished),
            "succeeded": 1,
            "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
    ctx.out.add(
        "jobs",
        {
            "metadata": o.object_meta(
                name=name,
                namespace=spec.namespace,
                uid=uid,
                created=started,
                resource_version=ctx.next_rv(),
                labels=labels,
                owner=owner,
                generation=1,
                managed_by="job-controller",
            ),
            "spec": {
                "parallelism": 1,
                "completions": 1,
                "backoffLimit": 1,
                "completionMode": "NonIndexed",
                "suspend": False,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
                "template": pod_template(spec, labels, spec.image),
            },
            "status": status,
        },
    )


def _schedule_period_minutes(schedule: str) -> int:
    """Period of the simple cron forms scenarios use (``*/N * * * *``, ``M * * * *``, daily)."""
    fields = schedule.split()
    if len(fields) != 5:
        return 60
    minute, hour = fields[0], fields[1]
    if minute.startswith("*/") and minute[2:].isdigit():
        return max(1, int(minute[2:]))
    if hour == "*":
        return 60
    if hour.startswith("*/") and hour[2:].isdigit():
        return 60 * int(hour[2:])
    return 24 * 60
