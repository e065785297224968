"""The adversarial secret corpus and its placements in every string the collector reads.

``CORPUS`` holds at least 40 secret kinds, each as it would appear in free text, with the part
that must never come out (``needle``). ``placements`` is generated from the snapshot structs'
own field table (``sanitize.string_fields``), so a field added to a struct is planted the day it
is added; ``plant`` writes a text at one such path into a raw API object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from k8s_monitor.cluster.sanitize import IDENTITY_FIELDS, string_fields
from k8s_monitor.cluster.snapshot import KINDS
from tests.faults.test_secrets import CORPUS as BASE
from tests.faults.test_secrets import Secret

_PEM_LINES = (
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDPl4nt3dK3yB0dy1",
    "q8Xv2Lm9Tz4Rb7Nc1Kd6Wf3Hj5Gp0Ys8Ua2Ie4RoZx81Qw72Er63Ty54Ui45Op36As",
    "Pl4nt3dB0dyL1n3ThR33xYz0123456789abcdefGHIJKLmnopqrSTUVwxyz0123==",
)
# A log tail the kubelet cut inside a PEM block: body lines, then END, no BEGIN.
PEM_TAIL = "\n".join([*_PEM_LINES[1:], "-----END RSA PRIVATE KEY-----", "app exited"])
# The same block cut before its END too: only body lines.
PEM_MIDDLE = "\n".join(_PEM_LINES)
_SA_KEY_ID = "9a8b7c6d5e4f30211202f3e4d5c6b7a8998877ff"
_SA_PEM = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiPl4nt3dS4K3y"

EXTRA: tuple[Secret, ...] = (
    Secret("mysql_p_flag", "running mysql -h db -uapp -pMyP4ssPl4nt3dX orders", "MyP4ssPl4nt3dX"),
    Secret(
        "password_flag_text",
        "exec backup --user admin --password Fl4gP4ssPl4nt3d --verbose",
        "Fl4gP4ssPl4nt3d",
    ),
    Secret("db_pass_env", "starting with DB_PASS=DbP4ssPl4nt3dZ9 HOST=db", "DbP4ssPl4nt3dZ9"),
    Secret("smtp_passwd_env", "config SMTP_PASSWD=Smtp9Pl4nt3dPw applied", "Smtp9Pl4nt3dPw"),
    Secret(
        "docker_config_auth",
        'dockerconfigjson {"auths": {"ghcr.io": {"auth": "ZGVwbG95OlBsNG50M2RSM2dpc3RyeQ=="}}}',
        "ZGVwbG95OlBsNG50M2RSM2dpc3RyeQ==",
    ),
    Secret(
        "escaped_json_auth",
        'payload "{\\"auth\\": \\"cm9ib3Q6RXNjNHAzZFBsNG50M2Q=\\"}"',
        "cm9ib3Q6RXNjNHAzZFBsNG50M2Q=",
    ),
    Secret(
        "escaped_json_key_id",
        f'body "{{\\"private_key_id\\": \\"{_SA_KEY_ID}\\"}}"',
        _SA_KEY_ID,
    ),
    Secret(
        "service_account_private_key",
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        f'{_SA_PEM}\\n-----END PRIVATE KEY-----\\n"}}',
        _SA_PEM,
    ),
    Secret("pem_fragment", f"tail:\n{PEM_MIDDLE}\nnext", "Pl4nt3dB0dyL1n3ThR33xYz"),
    Secret(
        "github_fine_grained_pat",
        "git remote github_pat_11ABCDEFG0Pl4nt3dF1n3Gr41n3d_T0k3nV4lu3xyz0123456789AB",
        "Pl4nt3dF1n3Gr41n3d_T0k3nV4lu3xyz",
    ),
    Secret(
        "sendgrid_key",
        "mail via SG.Pl4nt3dS3ndGr1dK3y01.Zq9xWv8uTs7rQp6oNm5lKj4iHg3fEd2cBa1Pl4nt",
        "Zq9xWv8uTs7rQp6oNm5lKj4iHg3fEd2cBa1Pl4nt",
    ),
    Secret(
        "twilio_key",
        "sms SK0123456789abcdef0123456789abcdef ok",
        "SK0123456789abcdef0123456789abcdef",
    ),
    Secret(
        "vault_token",
        "VAULT hvs.CAESIPl4nt3dV4ultT0k3nValue0123 login",
        "Pl4nt3dV4ultT0k3nValue0123",
    ),
    Secret(
        "shopify_token",
        "shop shpat_0123456789abcdef0123456789abcdef sync",
        "shpat_0123456789abcdef0123456789abcdef",
    ),
    Secret(
        "discord_webhook",
        "alerting https://discord.com/api/webhooks/123456789012345678/Pl4nt3dD1sc0rdH00k_xyz",
        "Pl4nt3dD1sc0rdH00k_xyz",
    ),
    Secret(
        "telegram_bot_token",
        "bot 123456789:AAPl4nt3dT3l3gr4mB0tT0k3n0123456789 polling",
        "AAPl4nt3dT3l3gr4mB0tT0k3n0123456789",
    ),
    Secret(
        "huggingface_token",
        "hub hf_Pl4nt3dHuggingF4c3T0k3nABCDEFGHIJ0 download",
        "hf_Pl4nt3dHuggingF4c3T0k3nABCDEFGHIJ0",
    ),
    Secret(
        "azure_sas",
        "blob https://acct.blob.core.windows.net/c?sv=2022&sig=Pl4nt3dS4sS1gn4tur3%2Bxyz0123456789",
        "Pl4nt3dS4sS1gn4tur3",
    ),
    Secret(
        "basic_auth_header",
        "request Authorization: Basic cGxhbnRlZDpCYXNpY1BsNG50M2Q= rejected",
        "cGxhbnRlZDpCYXNpY1BsNG50M2Q=",
    ),
    Secret(
        "random_after_key_word",
        "the api key is 7Hc0Pl4nt3dR4nd0mQz9Xw2 for prod",
        "7Hc0Pl4nt3dR4nd0mQz9Xw2",
    ),
    Secret(
        "mongodb_srv_url",
        "MONGO_URL mongodb+srv://app:M0ng0Pl4nt3dPw@cluster0.example.net/db",
        "M0ng0Pl4nt3dPw",
    ),
    Secret("redis_url", "cache redis://:R3d1sPl4nt3dPw@redis:6379/0", "R3d1sPl4nt3dPw"),
    Secret(
        "aws_session_token",
        "aws_session_token=IQoJb3JpZ2luX2VjEPl4nt3dS3ss10nT0k3n0123",
        "IQoJb3JpZ2luX2VjEPl4nt3dS3ss10nT0k3n0123",
    ),
    Secret(
        "google_oauth_token",
        "oauth ya29.a0Pl4nt3dG00gl3OAuthT0k3n0123456789 expired",
        "a0Pl4nt3dG00gl3OAuthT0k3n0123456789",
    ),
    Secret(
        "stripe_webhook_secret",
        "verify whsec_Pl4nt3dStr1p3Wh00kS3cr3t0123",
        "Pl4nt3dStr1p3Wh00kS3cr3t0123",
    ),
    Secret(
        "pypi_token",
        "twine pypi-AgEIcHlwaS5vcmcPl4nt3dPyP1T0k3nV4lu30123456789abcdefghijklmnopq"
        "RSTUVWXYZ0123456789 upload",
        "Pl4nt3dPyP1T0k3nV4lu30123456789abcdef",
    ),
    Secret(
        "escaped_json_password",
        'log "{\\"db_password\\": \\"Esc4p3dJs0nPw\\"}"',
        "Esc4p3dJs0nPw",
    ),
    Secret(
        "terminal_escape_wrapped",
        "\x1b[31mERROR\x1b[0m token=\x1b[1mT3rm1n4lT0k3nPl4nt\x1b[0m",
        "T3rm1n4lT0k3nPl4nt",
    ),
)

CORPUS: tuple[Secret, ...] = (*BASE, *EXTRA)


def placements(kind: str) -> list[tuple[str, ...]]:
    """Every wire path of a string the collector decodes for API ``kind``."""
    struct_type, _ = KINDS[kind]
    return list(string_fields(struct_type))


def all_placements() -> Iterator[tuple[str, tuple[str, ...]]]:
    for kind in KINDS:
        for path in placements(kind):
            yield kind, path


def plant(obj: dict[str, Any], path: tuple[str, ...], text: str) -> None:
    """Write ``text`` at ``path`` (``*``: the first item of a list, ``{}``: a map entry)."""
    node: Any = obj
    for position, part in enumerate(path):
        last = position == len(path) - 1
        if part == "*":
            assert isinstance(node, list)
            if last:
                node.append(text)
                return
            if not node:
                node.append({})
            node = node[0]
            continue
        if part == "{}":
            key = f"planted.example.com/k{len(node)}"
            if last:
                node[key] = text
                return
            node = node.setdefault(key, {})
            continue
        if last:
            node[part] = text
            return
        following = path[position + 1]
        node = node.setdefault(part, [] if following == "*" else {})


def identity_safe(text: str) -> bool:
    """True when ``text`` fails every identity syntax, so planting it anywhere tests redaction."""
    return not any(syntax.fullmatch(text) for syntax in IDENTITY_FIELDS.values())
