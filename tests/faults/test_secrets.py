"""Secrets planted in logs, events, annotations and container args never leave the daemon.

One run of persistent cycles with every secret kind planted in every place; then every byte the
daemon produced is searched: model request bodies (recorded by the fake), the session directory
(sessions, backups, ledger, spool, notification state), reports, log output and notifications.
A marker next to each planted log line and event proves the text really reached the model, so
"not found" means "redacted", not "never sent".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from tests.faults.harness import Rig, captured_logs, rig, run_cycles
from tests.faults.planted import CRASHLOOP_STEP, PlantingSource, planted_scenario


class Secret(NamedTuple):
    kind: str
    text: str  # as it appears in a log line, event message or argument
    needle: str  # the sensitive part; must not appear anywhere afterwards


_PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4"
_GCP_KEY_ID = "3f1c2b9a8e7d6c5b4a39281706f5e4d3c2b1a098"

CORPUS: tuple[Secret, ...] = (
    Secret("aws_access_key_id", "aws key AKIAZ7Q4WJ3EXAMPLE9K in use", "AKIAZ7Q4WJ3EXAMPLE9K"),
    Secret(
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY=q8Xv2Lm9Tz4Rb7Nc1Kd6Wf3Hj5Gp0Ys8Ua2Ie4Ro",
        "q8Xv2Lm9Tz4Rb7Nc1Kd6Wf3Hj5Gp0Ys8Ua2Ie4Ro",
    ),
    Secret(
        "github_pat",
        "cloning with ghp_R4nd0mT0k3nV4lu3F0rT35t1ngPurp0535xQ",
        "ghp_R4nd0mT0k3nV4lu3F0rT35t1ngPurp0535xQ",
    ),
    Secret("gitlab_pat", "CI_JOB_TOKEN glpat-Zx81Qw72Er63Ty54Ui45", "glpat-Zx81Qw72Er63Ty54Ui45"),
    Secret(
        "slack_bot_token",
        "slack client xoxb-884412377011-5512094410392-Rq7Tz9Wm2Kx5Lp8Nv3Bc6Hd1",
        "xoxb-884412377011-5512094410392-Rq7Tz9Wm2Kx5Lp8Nv3Bc6Hd1",
    ),
    Secret(
        "slack_webhook_url",
        "posting to https://hooks.slack.com/services/T0PLANT01/B0PLANT02/Xy7Zq2Wm9Kx4Lp1Nv8Bc3Hd",
        "Xy7Zq2Wm9Kx4Lp1Nv8Bc3Hd",
    ),
    Secret(
        "anthropic_key",
        "ANTHROPIC_API_KEY=sk-ant-api03-Pl4nt3dK3yF0rL34kT35t1ng_abcDEF123-xyz",
        "Pl4nt3dK3yF0rL34kT35t1ng_abcDEF123",
    ),
    Secret(
        "openai_key",
        "openai sk-proj-Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J3k2L1zX",
        "Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J3k2L1zX",
    ),
    Secret(
        "stripe_live_key",
        "stripe.api_key set to sk_live_51HPlantedStripeKey0123456789",
        "51HPlantedStripeKey0123456789",
    ),
    Secret(
        "jwt",
        "session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkLXVzZXIifQ."
        "Wq3Nv8Bc1Hd6Kx4Lp9Zm2Tr7",
        "eyJzdWIiOiJwbGFudGVkLXVzZXIifQ",
    ),
    Secret(
        "authorization_bearer",
        "GET /api Authorization: Bearer pl4nt3d.b34r3r.t0k3n.Vx81Qm",
        "pl4nt3d.b34r3r.t0k3n.Vx81Qm",
    ),
    Secret(
        "basic_auth_url",
        "fetching https://deploy:Hunter2Plant3d@artifacts.example.com/repo",
        "Hunter2Plant3d",
    ),
    Secret(
        "pem_private_key",
        f"-----BEGIN PRIVATE KEY----- {_PEM_BODY} -----END PRIVATE KEY-----",
        _PEM_BODY,
    ),
    Secret("password_pair", "login failed password=C0rrectH0rseB4ttery", "C0rrectH0rseB4ttery"),
    Secret("secret_pair", "oauth client_secret=Sh0uldN3v3rL34k99", "Sh0uldN3v3rL34k99"),
    Secret("token_pair", "refresh token=rT0k3nPl4nt3dV4lu3xy", "rT0k3nPl4nt3dV4lu3xy"),
    Secret("api_key_pair", "geo api_key=Ak3yPl4nt3d0987654321", "Ak3yPl4nt3d0987654321"),
    Secret(
        "json_password",
        'config {"db_password": "J50nP4ssw0rdPl4nt3d", "pool": 5}',
        "J50nP4ssw0rdPl4nt3d",
    ),
    Secret("yaml_password", "rendered config: password: Y4mlP4ssPl4nt3d!", "Y4mlP4ssPl4nt3d"),
    Secret(
        "database_url",
        "DATABASE_URL=postgres://orders:Pg5ecr3tPl4nt3d@ledger-db:5432/orders",
        "Pg5ecr3tPl4nt3d",
    ),
    Secret(
        "gcp_service_account_key",
        f'credentials.json {{"type": "service_account", "private_key_id": "{_GCP_KEY_ID}"}}',
        _GCP_KEY_ID,
    ),
    Secret(
        "azure_storage_key",
        "DefaultEndpointsProtocol=https;AccountName=plantedacct;AccountKey="
        "Pl4nt3dAzur3K3yVa1ue0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123==;"
        "EndpointSuffix=core.windows.net",
        "Pl4nt3dAzur3K3yVa1ue0123456789abcdef",
    ),
    Secret(
        "google_api_key",
        "maps key AIzaSyPl4nt3dG00gl3K3y0123456789abcdEfg",
        "AIzaSyPl4nt3dG00gl3K3y0123456789abcdEfg",
    ),
    Secret(
        "npm_token",
        "//registry.npmjs.org/:_authToken=npm_Pl4nt3dNpmT0k3n0123456789abcdefghij",
        "npm_Pl4nt3dNpmT0k3n0123456789abcdefghij",
    ),
    Secret(
        "mysql_pwd_env",
        "exec: MYSQL_PWD=My5qlPl4nt3dPwd mysqldump orders",
        "My5qlPl4nt3dPwd",
    ),
)

ARG_SECRETS = ("--password", "ArgvP4ssPl4nt3d", "--token=ArgvT0k3nPl4nt3d")
ARG_NEEDLES = ("ArgvP4ssPl4nt3d", "ArgvT0k3nPl4nt3d")
ANNOTATIONS = {
    "example.com/db-password": "Ann0tP4ssPl4nt3d",
    "example.com/note": "deployed with token=Ann0tT0k3nPl4nt3d",
    f"example.com/{CORPUS[0].kind}": CORPUS[0].text,
}
ANNOTATION_NEEDLES = ("Ann0tP4ssPl4nt3d", "Ann0tT0k3nPl4nt3d")


CHUNK = 6


def _set_checkout_logs(r: Rig, lines: list[str]) -> None:
    pods = r.sim.view(CRASHLOOP_STEP).collection("pods")
    assert pods is not None
    text = "\n".join(lines) + "\n"
    for pod in pods.items(0, len(pods)):
        meta = pod["metadata"]
        if meta["namespace"] == "shop" and meta["name"].startswith("checkout"):
            for container in pod["spec"]["containers"]:
                for previous in (False, True):
                    r.sim.set_pod_log("shop", meta["name"], container["name"], text, previous)


def _marker(number: int) -> str:
    return f"marker-{number:02d}-seen"


def _haystacks(r: Rig, logs: str) -> dict[str, str]:
    files = {
        "session_dir": r.session_dir,
        "reports": r.report_dir,
    }
    out = {
        "model_requests": json.dumps([rec.body for rec in r.fake.records], ensure_ascii=False),
        "log_output": logs,
        "notifications": json.dumps(
            [[rec.body, rec.headers] for rec in r.receiver.received], ensure_ascii=False
        ),
    }
    for name, root in files.items():
        out[name] = "\n".join(
            p.read_bytes().decode(errors="replace") for p in sorted(root.rglob("*")) if p.is_file()
        )
    return out


def test_no_planted_secret_leaves_the_daemon(tmp_path: Path) -> None:
    assert len({s.kind for s in CORPUS}) >= 20
    lines = [f"{_marker(n)} ERROR {s.text}" for n, s in enumerate(CORPUS)]
    events = [f"{_marker(n + 50)} probe failed: {s.text}" for n, s in enumerate(CORPUS)]
    scenario = planted_scenario(tmp_path, log_lines=lines[:CHUNK], event_messages=[])
    source = PlantingSource(
        scenario, workload="shop/checkout", annotations=ANNOTATIONS, args=list(ARG_SECRETS)
    )
    with rig(tmp_path, source) as r:
        tails = {"log_tail_lines": 200, "log_tail_bytes": 65_536, "log_level": "DEBUG"}
        with captured_logs(r.settings(**tails)) as stream:
            # The model sees a log's tail, once per new incident: each chunk of the corpus gets
            # its own session (and ledger), the last one in stateless mode.
            chunks = range(0, len(lines), CHUNK)
            for number, start in enumerate(chunks):
                source.event_messages = []
                r.sim.goto(0)
                monitor = r.monitor(
                    session_id=f"secrets-{number}",
                    enable_long_context=number < len(chunks) - 1,
                    **tails,
                )
                try:
                    run_cycles(monitor, 1)
                    source.event_messages = events[start : start + CHUNK]
                    _set_checkout_logs(r, lines[start : start + CHUNK])
                    r.sim.goto(CRASHLOOP_STEP)
                    # Pods forbidden: events are the only view, so their messages are evidence.
                    r.sim.faults.set(resource="pods", status=403)
                    run_cycles(monitor, 1)
                    r.sim.faults.clear()
                    run_cycles(monitor, 2)  # pods again: the crash loop is new, with its logs
                finally:
                    monitor.close()
        haystacks = _haystacks(r, stream.getvalue())

    sent = haystacks["model_requests"]
    seen = [n for n in range(len(CORPUS)) if _marker(n) in sent]
    assert len(seen) >= len(CORPUS) - 2, f"log lines must reach the model to mean anything: {seen}"
    reports = haystacks["reports"]
    events_seen = [n for n in range(len(CORPUS)) if _marker(n + 50) in sent + reports]
    assert len(events_seen) == len(CORPUS), f"events must reach reports or the model: {events_seen}"
    assert any(_marker(n + 50) in sent for n in range(len(CORPUS))), "events reached the model"
    needles = {s.kind: s.needle for s in CORPUS}
    needles.update({f"arg{n}": v for n, v in enumerate(ARG_NEEDLES)})
    needles.update({f"annotation{n}": v for n, v in enumerate(ANNOTATION_NEEDLES)})
    needles["settings_api_key"] = "faultsuite-dummy-key"
    needles["settings_webhook_token"] = "secret-token-xyz"
    leaks = sorted(
        f"{kind} in {where}"
        for kind, needle in needles.items()
        for where, text in haystacks.items()
        if needle in text
    )
    print(
        f"FIGURE secrets: {len(CORPUS)} kinds, {len(needles)} needles, {len(haystacks)} places, "
        f"{len(seen)} log lines and {len(events_seen)} events seen sent/reported, "
        f"{len(leaks)} leaks"
    )
    assert leaks == [], "\n".join(leaks)
