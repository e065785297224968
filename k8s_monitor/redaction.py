"""Redaction: secrets never leave collection, and never reach a model, a session, a report or a log.

A :class:`Redactor` applies an ordered list of patterns to text and replaces each secret with
``[REDACTED:<kind>]``. Where a pattern names a ``secret`` group only that group is replaced, so
``password=hunter2`` reads ``password=[REDACTED:password]`` and the reader still sees *what*
was hidden. Specific token formats come first, generic ``key=value`` forms last, so the kind
shown is the most precise one.

``redact_obj`` walks JSON-like data: every string is redacted, and a string stored under a key
that names a secret (``{"db_password": "..."}``) is hidden whole, since no pattern could tell
that a bare value is sensitive.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from k8s_monitor.memo import TextMemo

if TYPE_CHECKING:
    from k8s_monitor.config import Settings

log = structlog.get_logger(__name__)

MARKER = "[REDACTED:{kind}]"
T = TypeVar("T")

# What every stage that redacts takes: text in, text without secrets out.
Redact = Callable[[str], str]

# A value already replaced must not be matched again by a later, more generic pattern.
_NOT_DONE = r"(?!\[REDACTED:)"

# Key names that mark the value next to them as a secret, mapped to the kind shown.
_SECRET_KEY_WORDS = (
    ("password", "password"),
    ("passwd", "password"),
    ("pwd", "password"),
    ("passphrase", "password"),
    # DB_PASS=, smtp-pass: only after a separator, so "bypass" or "compass" are not keys.
    ("_pass", "password"),
    ("-pass", "password"),
    (".pass", "password"),
    ("client_secret", "secret"),
    ("client-secret", "secret"),
    ("secret_key", "secret"),
    ("secret-key", "secret"),
    ("secret", "secret"),
    ("api_key", "api_key"),
    ("api-key", "api_key"),
    ("apikey", "api_key"),
    ("access_key", "api_key"),
    ("access-key", "api_key"),
    ("private_key", "private_key"),
    ("private-key", "private_key"),
    ("token", "token"),
    ("credentials", "credentials"),
    ("credential", "credentials"),
)
_KEY_WORDS = "|".join(re.escape(word) for word, _ in _SECRET_KEY_WORDS)
# In text, a key is found by its secret word directly followed by the separator, whatever comes
# before it: DB_PASSWORD= and aws_session_token: match, ``password_file=`` or ``max_tokens=`` do
# not. Anchoring on the word (not on the start of the key) keeps matching linear in the text.
_WORD = rf"(?:{_KEY_WORDS})"
_SECRET_KEY_RE = re.compile(rf"(?i)^[A-Za-z0-9_./\-]*?(?:{_KEY_WORDS})$")


@dataclass(frozen=True, slots=True)
class Pattern:
    """One secret shape. ``regex`` may define a ``secret`` group: only that part is replaced."""

    kind: str
    regex: re.Pattern[str]
    # A cheap test that must pass before ``regex`` runs: most text holds no key word at all.
    requires: re.Pattern[str] | None = None
    # A test of the ``secret`` group the regex alone cannot express (randomness).
    accept: Callable[[str], bool] | None = None

    def apply(self, text: str) -> str:
        if self.requires is not None and self.requires.search(text) is None:
            return text
        return self.apply_found(text)

    def apply_found(self, text: str) -> str:
        """``apply`` once ``requires`` has passed."""
        groups = self.regex.groupindex
        if "secret" not in groups:
            return self.regex.sub(MARKER.format(kind=self.kind), text)
        by_key = "key" in groups

        def replace(match: re.Match[str]) -> str:
            start, end = match.span("secret")
            if start < 0 or (self.accept is not None and not self.accept(match.group("secret"))):
                return match.group(0)
            kind = (secret_key_kind(match.group("key")) or self.kind) if by_key else self.kind
            whole, offset = match.group(0), match.start()
            return whole[: start - offset] + MARKER.format(kind=kind) + whole[end - offset :]

        return self.regex.sub(replace, text)


def _p(
    kind: str,
    regex: str,
    requires: re.Pattern[str] | None = None,
    accept: Callable[[str], bool] | None = None,
) -> Pattern:
    return Pattern(kind, re.compile(regex), requires, accept)


def looks_random(text: str) -> bool:
    """Letters and digits mixed with high entropy: a generated token, not a word or a path."""
    if len(text) < 16 or not any(c.isdigit() for c in text) or not any(c.isalpha() for c in text):
        return False
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    size = len(text)
    entropy = -sum(n / size * math.log2(n / size) for n in counts.values())
    return entropy >= _MIN_ENTROPY_BITS


_MIN_ENTROPY_BITS = 3.3


_HAS_KEY_WORD = re.compile(
    r"(?i)pass|pwd|secret|token|api.?key|access.?key|private.?key|credential"
)
_HAS_URL = re.compile("://")
_HAS_PEM_END = re.compile("-----END ")
_HAS_MYSQL = re.compile("(?i)mysql|mariadb")
_HAS_ESCAPED_NEWLINE = re.compile(r"\\n")
# A quote as JSON writes it, or escaped once or more (JSON quoted inside a JSON string).
_Q = r'\\{0,3}"'


# Ordered: exact token formats, then structural forms (PEM, URLs, headers), then key=value pairs.
BUILTIN_PATTERNS: tuple[Pattern, ...] = (
    _p(
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
    # A tail cut inside a PEM block (the kubelet applies tailLines): body lines, then END.
    _p(
        "private_key",
        # Starts only at the first line of a run, so a long run is scanned once, not per line.
        r"(?m)(?<![A-Za-z0-9+/=]\n)(?:^[ \t]*[A-Za-z0-9+/]{16,}={0,2}[ \t]*\r?\n)+"
        r"[ \t]*-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        _HAS_PEM_END,
    ),
    # A line that is one long base64 run of mixed case and digits: key material (a PEM body
    # line with neither header nor footer in sight, a certificate, a keytab) or a token.
    _p(
        "key_material",
        r"(?m)^[ \t]*(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[0-9])"
        r"[A-Za-z0-9+/]{40,}={0,2}[ \t]*$",
    ),
    # The same lines inside a quoted string, where each newline is written \n (a message
    # rendered as JSON, a log line quoting a key file).
    _p(
        "key_material",
        r"(?<=\\n)[ \t]*(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[0-9])"
        r"[A-Za-z0-9+/]{40,}={0,2}(?=[ \t]*(?:\\|\"|'|$))",
        _HAS_ESCAPED_NEWLINE,
    ),
    _p(
        "gcp_service_account",
        rf"{_Q}private_key_id{_Q}\s*:\s*{_Q}(?P<secret>[a-f0-9]{{40}})",
    ),
    _p(
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b",
    ),
    _p(
        "aws_secret_key",
        r"(?i)aws_?secret_?(?:access_?)?key[\"'\s]*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})\b",
    ),
    _p("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    _p("gitlab_token", r"\bgl(?:pat|dt|rt|ptt|cbt)-[A-Za-z0-9_\-]{20,}"),
    _p(
        "slack_webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+",
    ),
    _p("slack_token", r"\bxox[abposre]-[A-Za-z0-9\-]{10,}"),
    _p("anthropic_key", r"\bsk-ant-[a-z]+\d{2}-[A-Za-z0-9_\-]{20,}"),
    _p("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}"),
    _p("stripe_key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}"),
    _p("gcp_api_key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    _p("google_oauth_token", r"\bya29\.[0-9A-Za-z_\-]{20,}"),
    _p("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    _p("pypi_token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"),
    _p("huggingface_token", r"\bhf_[A-Za-z0-9]{34,}\b"),
    _p("sendgrid_key", r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{30,}"),
    _p("twilio_key", r"\bSK[0-9a-f]{32}\b"),
    _p("vault_token", r"\bhv[sbr]\.[A-Za-z0-9_\-]{24,}"),
    _p("shopify_token", r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b"),
    _p(
        "discord_webhook",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]+",
    ),
    _p("telegram_bot_token", r"\b\d{8,10}:AA[A-Za-z0-9_\-]{33}\b"),
    _p("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),
    _p(
        "azure_storage_key",
        r"(?i)\bAccountKey\s*=\s*(?P<secret>[A-Za-z0-9+/]{80,}={0,2})",
    ),
    _p("azure_sas_token", r"(?i)[?&]sig=(?P<secret>[A-Za-z0-9%+/=]{30,})"),
    _p(
        "docker_auth",
        rf"{_Q}(?:auth|identitytoken|registrytoken){_Q}\s*:\s*{_Q}"
        r"(?P<secret>[A-Za-z0-9+/_.\-]{12,}={0,2})",
    ),
    # mysql -pSECRET (no space: with a space, -p prompts for the password).
    _p(
        "password",
        r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mariadb)\b[^\n]{0,200}?[ \t]-p"
        rf"{_NOT_DONE}(?P<secret>'[^'\n]*'|\"[^\"\n]*\"|[^\s'\"]+)",
        _HAS_MYSQL,
    ),
    _p(
        "bearer_token",
        # A token has a digit or is long: "Bearer authentication failed" is prose.
        rf"(?i)\bbearer\s+{_NOT_DONE}(?P<secret>(?=[A-Za-z0-9._~+/\-]*\d)"
        r"[A-Za-z0-9._~+/\-]{8,}=*|[A-Za-z0-9._~+/\-]{20,}=*)",
    ),
    _p(
        "basic_auth",
        rf"(?i)\bauthorization\s*[:=]\s*[\"']?basic\s+{_NOT_DONE}(?P<secret>[A-Za-z0-9+/]{{8,}}=*)",
    ),
    _p(
        "database_url",
        r"(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|"
        r"sqlserver|cockroachdb|clickhouse|jdbc:[a-z]+)://[^\s:/@\"']*:"
        rf"{_NOT_DONE}(?P<secret>[^\s@/\"']+)@",
        _HAS_URL,
    ),
    _p(
        "url_credentials",
        rf"\b[a-zA-Z][a-zA-Z0-9+.\-]{{0,30}}://[^\s:/@\"']+:{_NOT_DONE}(?P<secret>[^\s@/\"']+)@",
        _HAS_URL,
    ),
    # JSON form: "db_password": "value" (escaped quotes inside the value are part of it).
    _p(
        "secret_value",
        rf"(?i)(?P<key>{_WORD})\"\s*:\s*\"{_NOT_DONE}(?P<secret>(?:[^\"\\]|\\.)+)\"",
        _HAS_KEY_WORD,
    ),
    # The same inside a JSON string (a log line quoting JSON): {\"db_password\": \"value\"}.
    _p(
        "secret_value",
        rf"(?i)(?P<key>{_WORD})\\+\"\s*:\s*\\+\"{_NOT_DONE}(?P<secret>[^\"\\]+)",
        _HAS_KEY_WORD,
    ),
    # --password VALUE, -token VALUE in free text (argv split in two, a logged command line).
    _p(
        "secret_value",
        rf"(?i)(?<![A-Za-z0-9_.\-])--?(?P<key>[A-Za-z0-9_.\-]*?{_WORD})[ \t]+{_NOT_DONE}"
        r"(?P<secret>\"[^\"\n]*\"|'[^'\n]*'|(?!-)[^\s\"']+)",
        _HAS_KEY_WORD,
    ),
    # key=value in text, env-style args, query strings, connection strings (Password=...;).
    _p(
        "secret_value",
        rf"(?i)(?P<key>{_WORD})[\"']?\s*=\s*{_NOT_DONE}"
        r"(?P<secret>\"[^\"]*\"|'[^']*'|[^\s,;&\"'<>]+)",
        _HAS_KEY_WORD,
    ),
    # key: value (YAML, headers). Ordinary prose uses this form too ("token: expired"), so an
    # unquoted value counts only when it looks generated: a digit in it, or long and unbroken.
    _p(
        "secret_value",
        rf"(?i)(?P<key>{_WORD})[\"']?\s*:[ \t]*{_NOT_DONE}"
        r"(?P<secret>\"[^\"\n]+\"|'[^'\n]+'|(?=[^\s,;]*\d)[^\s,;]{6,}|[^\s,;]{20,})",
        _HAS_KEY_WORD,
    ),
    # A generated-looking token a few words after a credential word, with no = or : at all:
    # "api key is 9fQ2...", "using token 7Hc0...", "secret for prod: ...".
    _p(
        "secret_value",
        rf"(?i)(?P<key>{_WORD}|api[ _\-]?key|access[ _\-]?key)s?\b"
        r"(?:[ \t]+[A-Za-z:=]{1,8}){0,3}[ \t]+"
        rf"{_NOT_DONE}(?P<secret>[A-Za-z0-9+/=_.~\-]{{16,}})",
        _HAS_KEY_WORD,
        looks_random,
    ),
)

# Short words of name characters, which no built-in pattern can match: every token format is
# at least 15 characters long (xoxb- and ten), every other form needs a space, a quote, "=",
# ":" or "-----". Most strings of a cluster look like this ("True", "Running", label values),
# and the first cycle meets thousands of distinct ones.
_PLAIN = re.compile(r"[A-Za-z0-9._/\-]{1,14}")

# Kinds a corpus can plant, for tests and documentation.
BUILTIN_KINDS: frozenset[str] = frozenset(p.kind for p in BUILTIN_PATTERNS)

# Only short strings repeat (annotations, commands, event messages across replicas). The memo
# keeps at most this many characters alive, about 3 MB with the entries' overhead, however many
# distinct strings pass: log lines carry a new timestamp or path every cycle, and the former
# bound by entry count let those pile up to some 20 MB.
_CACHE_MAX_LENGTH = 256
_CACHE_MAX_CHARS = 1_000_000


# Terminal escapes (CSI, OSC, two-character) and the C0/C1 controls other than tab and newline:
# a name or message must not move a reader's cursor, recolour a terminal or hide a line.
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)?|[ -~]?)"
    r"|\x9b[0-?]*[ -/]*[@-~]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """``text`` without terminal escapes and control characters (tab and newline kept), and
    with lone surrogates (which no UTF-8 writer accepts) replaced by U+FFFD."""
    if _UNSAFE.search(text) is None:
        return text
    return _SURROGATES.sub("\ufffd", _ESCAPES.sub("", text))


@functools.lru_cache(maxsize=4096)  # keys repeat: label, annotation and resource names
def secret_key_kind(key: str) -> str | None:
    """The kind a secret-naming key (``db_password``, ``x/api-token``) implies, else None."""
    if not _SECRET_KEY_RE.match(key):
        return None
    lowered = key.lower()
    for word, kind in _SECRET_KEY_WORDS:
        if lowered.endswith(word):
            return kind
    return "secret_value"


class Redactor:
    """Replaces secrets in text and JSON-like data with ``[REDACTED:<kind>]``."""

    def __init__(self, patterns: Iterable[Pattern] = BUILTIN_PATTERNS) -> None:
        self._patterns = tuple(patterns)
        # Custom patterns may match any short word; the built-in ones cannot (see _PLAIN).
        self._plain_is_safe = all(p in BUILTIN_PATTERNS for p in self._patterns)
        # Annotations, commands and event messages repeat across replicas: caching short strings
        # makes redacting 150k pods cost a few thousand distinct regex passes, not a million.
        self._memo = TextMemo(self._apply, _CACHE_MAX_CHARS)
        # The boundary meets most strings of a big cluster many times ("True", reasons, images):
        # a plain dict answers those in one lookup, which an LRU's bookkeeping would triple.
        # It is emptied whole when its budget is spent, so memory stays bounded.
        self._cleaned: dict[str, str] = {}
        self._cleaned_chars = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        """Built-in patterns plus ``REDACT_PATTERNS`` (shown as ``custom``)."""
        return cls.with_extra(settings.redact_patterns)

    @classmethod
    def with_extra(cls, extra: Sequence[str]) -> Redactor:
        custom = [Pattern("custom", re.compile(text)) for text in extra]
        # Custom patterns run first: the operator knows their secrets' shapes best.
        return cls([*custom, *BUILTIN_PATTERNS])

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(p.kind for p in self._patterns)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Names what this redactor finds: equal for equal patterns, in any process or release."""
        digest = hashlib.sha256()
        for p in self._patterns:
            requires = p.requires.pattern if p.requires is not None else ""
            accept = p.accept.__qualname__ if p.accept is not None else ""
            digest.update(repr((p.kind, p.regex.pattern, p.regex.flags, requires, accept)).encode())
        digest.update(repr((_PLAIN.pattern, _MIN_ENTROPY_BITS)).encode())
        return digest.hexdigest()[:16]

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        if not text:
            return text
        if len(text) > _CACHE_MAX_LENGTH:
            return self._apply(text)
        return self._memo(text)

    def clean(self, text: str) -> str:
        """What the collection boundary keeps of a decoded string: controls stripped, lone
        surrogates replaced, secrets redacted."""
        done = self._cleaned.get(text)
        if done is not None:
            return done
        result = self._clean(text) if text else text
        if len(text) <= _CACHE_MAX_LENGTH:
            if self._cleaned_chars > _CACHE_MAX_CHARS:
                self._cleaned.clear()
                self._cleaned_chars = 0
            self._cleaned[text] = result
            self._cleaned_chars += len(text) + (0 if result is text else len(result))
        return result

    @property
    def cleaned(self) -> Mapping[str, str]:
        """What ``clean`` answered recently: the boundary's hot loop looks here first."""
        return self._cleaned

    def clean_mapping(self, values: Mapping[str, str]) -> dict[str, str]:
        """``clean`` for each value; values under secret-naming keys hidden whole."""
        return {key: self._hidden(key, item) or self.clean(item) for key, item in values.items()}

    def clean_value(self, key: str, item: str) -> str:
        """One value of a mapping, as ``clean_mapping`` treats it."""
        return self._hidden(key, item) or self.clean(item)

    def clean_argv(self, argv: Sequence[str]) -> list[str]:
        """``redact_argv`` with each part cleaned."""
        return self._argv(argv, self.clean)

    def redact_obj(self, value: Any) -> Any:
        """The same shape with every string redacted; values under secret-naming keys hidden."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {key: self._redact_item(key, item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_obj(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.redact_obj(item) for item in value)
        return value

    def redact_mapping(self, values: Mapping[str, str]) -> dict[str, str]:
        """A ``str -> str`` mapping (labels, annotations) with values redacted."""
        return {key: self._redact_item(key, item) for key, item in values.items()}

    def redact_argv(self, argv: Sequence[str]) -> list[str]:
        """A command line with secrets hidden, including ``--password VALUE`` split in two."""
        return self._argv(argv, self.redact)

    def _argv(self, argv: Sequence[str], redact: Callable[[str], str]) -> list[str]:
        out: list[str] = []
        hide_next: str | None = None
        for part in argv:
            if hide_next is not None and part and not part.startswith("-"):
                out.append(MARKER.format(kind=hide_next))
                hide_next = None
                continue
            out.append(redact(part))
            hide_next = secret_key_kind(part.lstrip("-")) if part.startswith("-") else None
        return out

    def _hidden(self, key: Any, item: Any) -> str | None:
        """The marker replacing ``item`` whole when ``key`` names a secret, else None."""
        if isinstance(item, str) and item and isinstance(key, str):
            kind = secret_key_kind(key)
            if kind is not None and not item.startswith("[REDACTED:"):
                return MARKER.format(kind=kind)
        return None

    def _redact_item(self, key: Any, item: Any) -> Any:
        hidden = self._hidden(key, item)
        return hidden if hidden is not None else self.redact_obj(item)

    def _clean(self, text: str) -> str:
        if self._plain_is_safe and _PLAIN.fullmatch(text):
            return text
        return self._apply(strip_controls(text))

    def _apply(self, text: str) -> str:
        # Several patterns share one cheap pre-test: run each once per version of the text.
        passed: dict[re.Pattern[str], bool] = {}
        for pattern in self._patterns:
            test = pattern.requires
            if test is not None:
                ok = passed.get(test)
                if ok is None:
                    ok = passed[test] = test.search(text) is not None
                if not ok:
                    continue
            replaced = pattern.apply_found(text)
            if replaced is not text:
                text = replaced
                passed.clear()
        return text


# --- the guard before every sink ----------------------------------------------------------------

# Texts a guard remembers: a full 1M-token history (about 4M characters) is checked on every
# save and resend, and only its newest turn is new.
_GUARD_MEMO_CHARS = 16 * 1024 * 1024
_MARKER_START = "[REDACTED:"


class Guard:
    """The fail-closed check before a sink (model request, session, report, ledger,
    notification, log line), on decoded text, never on its JSON encoding.

    Collection already redacts every string it decodes, so a guard should never find anything:
    a hit means the boundary missed a secret. The secret is redacted here all the same, and the
    hit is counted per sink (``k8s_monitor_redaction_guard_hits_total``) and logged.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, int] = {}
        self._listeners: list[Callable[[str, int], None]] = []
        self.use(redactor or Redactor())

    def use(self, redactor: Redactor) -> None:
        """Check with ``redactor`` (the settings' custom patterns included) from now on."""
        self._redactor = redactor
        # One memo for every sink: they see the same texts (a turn is sent, then saved), and
        # its size bounds what the guard keeps alive in total.
        self._memo = TextMemo(self._check, _GUARD_MEMO_CHARS)

    def on_hit(self, listener: Callable[[str, int], None]) -> None:
        """Call ``listener(sink, count)`` on every hit (the metrics of the one daemon in this
        process; a daemon assembled later replaces it)."""
        with self._lock:
            self._listeners = [listener]

    @property
    def fingerprint(self) -> str:
        """What the guard checks with (:attr:`Redactor.fingerprint`): a sink stores it beside
        what it writes, so a reader can tell that the texts passed these very patterns."""
        return self._redactor.fingerprint

    def passed(self, value: Any) -> None:
        """Remember every string of JSON-like ``value`` as already checked: it was read back from
        a sink this guard's patterns checked on the way in (same :attr:`fingerprint`)."""
        if isinstance(value, str):
            self._memo.remember(value, (value, 0))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.passed(key)
                self.passed(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.passed(item)

    def hits(self) -> dict[str, int]:
        """Hits so far, by sink."""
        with self._lock:
            return dict(self._hits)

    def text(self, sink: str, text: str) -> str:
        """``text`` as the sink may carry it."""
        if not text:
            return text
        memo = self._memo
        checked, found = memo(text) if len(text) <= _GUARD_MEMO_CHARS else self._check(text)
        if found:
            self.count(sink, found)
        return checked

    def obj(self, sink: str, value: Any) -> Any:
        """JSON-like ``value`` with every string (keys included) checked."""
        if isinstance(value, str):
            return self.text(sink, value)
        if isinstance(value, Mapping):
            return {self.obj(sink, k): self.obj(sink, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.obj(sink, item) for item in value]
        return value

    def struct(self, sink: str, value: T) -> T:
        """A msgspec struct checked through its builtin form and rebuilt."""
        import msgspec

        checked = self.obj(sink, msgspec.to_builtins(value))
        rebuilt: T = msgspec.convert(checked, type(value))
        return rebuilt

    def _check(self, text: str) -> tuple[str, int]:
        out = self._redactor.redact(text)
        if out is text or out == text:
            return text, 0
        return out, max(1, out.count(_MARKER_START) - text.count(_MARKER_START))

    def count(self, sink: str, found: int) -> None:
        """Record ``found`` secrets caught before ``sink``."""
        with self._lock:
            self._hits[sink] = self._hits.get(sink, 0) + found
            listeners = list(self._listeners)
        # The event names the sink only: what was found is already hidden.
        log.warning("redaction_guard_hit", sink=sink, found=found)
        for listener in listeners:
            listener(sink, found)


def guarded(sink: str, redactor: Redactor) -> Callable[[str], str]:
    """``redactor.redact`` for a sink's last pass, with what it still finds counted as hits.

    For the passes that already redact on their way out (the model request, log lines): a
    secret they catch is one the boundary missed, so it is counted like any guard hit.
    """

    def redact(text: str) -> str:
        out = redactor.redact(text)
        if out is not text and out != text:
            GUARD.count(sink, max(1, out.count(_MARKER_START) - text.count(_MARKER_START)))
        return out

    return redact


# The process's guard: sinks live in every stage, and each must not need a redactor passed in.
# ``wiring.assemble`` points it at the settings' redactor and the metrics.
GUARD = Guard()
