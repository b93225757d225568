"""Signed custody actions: an approval that proves who approved.

With `governance.identity: signed`, every action a person takes (register, evaluate, propose, approve, deploy,
roll back, retire, release from quarantine, acknowledge, resolve) is signed with that person's ed25519 SSH key over
the canonical action: who (their pseudonymous id), what, on which subject, its payload (the reason's SHA-256,
versions, effective time), when, and the Delta table and version the action commits. The signature is an SSH
signature (SSHSIG, namespace `monitoring-pipeline`, ed25519 through `cryptography`): the format `git` and
`ssh-keygen -Y sign` write, so `ssh-keygen -Y verify` checks it without this project.

Who may sign is an OpenSSH `allowed_signers` file (one key, one principal; `valid-after` / `valid-before` windows:
a revoked key's later signatures are refused, its earlier ones stay valid); `governance.roles` says who may
propose, approve, deploy, release and resolve, for which model. `audit verify` re-verifies every signature.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import re
import struct
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key

from monitoring_pipeline.core.audit import ALSO_PINNED, DATA_FILES, AuditEntry, canonical_json
from monitoring_pipeline.core.config import CLAIMED, ConfigError, Governance
from monitoring_pipeline.core.errors import MonitoringError

NAMESPACE = "monitoring-pipeline"
KEY_ENV = "MP_SIGNING_KEY"  # the path of the signer's private key
PASSPHRASE_ENV = "MP_SIGNING_PASSPHRASE"  # its passphrase, when it has one
SIGNATURE = "signature"  # the payload key of an entry's signature: {"key": fingerprint, "sshsig": armored}
UNSIGNED = {SIGNATURE, DATA_FILES, ALSO_PINNED, "recorded_from_commit_info"}  # payload keys added after signing
CLAIMS = "identities are claims, not verified (governance.identity: claimed)"
KEY_TYPE = b"ssh-ed25519"
CLOCK_SKEW = timedelta(minutes=5)  # how far a signed entry may be dated before the entry chained ahead of it
ARMOR = ("-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----")

# what each person's action needs the right to do (`governance.roles`)
VERBS = {
    "model_register": "propose",
    "model_evaluate": "propose",
    "feature_propose": "propose",
    "prompt_propose": "propose",
    "model_approved": "approve",
    "feature_approved": "approve",
    "prompt_approved": "approve",
    "model_deployed": "deploy",
    "model_rolled_back": "deploy",
    "model_retired": "deploy",
    "feature_rolled_back": "deploy",
    "prompt_rolled_back": "deploy",
    "quarantine_release": "release",
    "ticket_acknowledge": "resolve",
    "ticket_resolve": "resolve",
}

_KEY: ContextVar[str | None] = ContextVar("signing_key", default=None)


class SignatureError(MonitoringError, PermissionError):
    """A custody action the signer may not sign, or a key that cannot sign; the message names the rule."""


@dataclass(frozen=True)
class AllowedKey:
    """One line of the allowed signers file: a principal's key and the window it may sign in."""

    principal: str
    key: Ed25519PublicKey
    fingerprint: str
    valid_after: datetime | None
    valid_before: datetime | None
    where: str  # `file, line n`

    def valid_at(self, at: datetime) -> bool:
        return (self.valid_after is None or at >= self.valid_after) and (
            self.valid_before is None or at < self.valid_before
        )

    def window(self) -> str:
        after = self.valid_after.isoformat() if self.valid_after else "the start"
        return f"{after} until {self.valid_before.isoformat() if self.valid_before else 'revoked'}"


@contextmanager
def signing_with(key_path: str | None) -> Iterator[None]:
    """Sign the custody actions taken inside the block with the private key at `key_path` (None: `$MP_SIGNING_KEY`)."""
    token = _KEY.set(key_path)
    try:
        yield
    finally:
        _KEY.reset(token)


# -- the canonical action and the SSHSIG format -------------------------------------------------------------------


def action_bytes(
    actor: str, action: str, subject: str, payload: Mapping[str, Any], ts: datetime, table: str, version: int
) -> bytes:
    """What a signature covers, byte for byte the same when recorded and when re-verified from the entry."""
    signed = {k: v for k, v in payload.items() if k not in UNSIGNED}
    body = {
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": signed,
        "ts": ts.astimezone(UTC).isoformat(),
        "table": table,
        "version": version,
    }
    return canonical_json(body).encode()


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _signed_data(message: bytes, hash_name: str = "sha512") -> bytes:
    digest = hashlib.new(hash_name, message).digest()
    return b"SSHSIG" + _string(NAMESPACE.encode()) + _string(b"") + _string(hash_name.encode()) + _string(digest)


def _public_blob(key: Ed25519PublicKey) -> bytes:
    return base64.b64decode(key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).split()[1])


def fingerprint(key: Ed25519PublicKey) -> str:
    """The key's fingerprint as `ssh-keygen -l` prints it (`SHA256:...`)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(_public_blob(key)).digest()).decode().rstrip("=")


def sign_bytes(private: Ed25519PrivateKey, message: bytes) -> str:
    """An armored SSH signature of `message` (what `ssh-keygen -Y sign -n monitoring-pipeline` writes)."""
    signature = _string(KEY_TYPE) + _string(private.sign(_signed_data(message)))
    blob = (
        b"SSHSIG"
        + struct.pack(">I", 1)
        + _string(_public_blob(private.public_key()))
        + _string(NAMESPACE.encode())
        + _string(b"")
        + _string(b"sha512")
        + _string(signature)
    )
    text = base64.b64encode(blob).decode()
    return "\n".join([ARMOR[0], *(text[i : i + 70] for i in range(0, len(text), 70)), ARMOR[1]]) + "\n"


def _fields(blob: bytes) -> Iterator[bytes]:
    at = 0
    while at < len(blob):
        (size,) = struct.unpack(">I", blob[at : at + 4])
        yield blob[at + 4 : at + 4 + size]
        at += 4 + size


def signer_of(armored: str, message: bytes) -> Ed25519PublicKey:
    """The public key whose signature `armored` is over `message`; raises ValueError when it is not one."""
    lines = armored.strip().splitlines()
    if len(lines) < 3 or (lines[0], lines[-1]) != ARMOR:
        raise ValueError("not an armored SSH signature")
    blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    if blob[:6] != b"SSHSIG" or struct.unpack(">I", blob[6:10])[0] != 1:
        raise ValueError("not an SSHSIG version 1 signature")
    public, namespace, _reserved, hash_name, signature = list(_fields(blob[10:]))
    if namespace.decode() != NAMESPACE or hash_name not in (b"sha256", b"sha512"):
        raise ValueError(f"signed for namespace {namespace.decode()!r} with {hash_name.decode()}")
    key_type, key_bytes = list(_fields(public))
    sig_type, raw = list(_fields(signature))
    if key_type != KEY_TYPE or sig_type != KEY_TYPE:
        raise ValueError(f"a {key_type.decode()} signature; only ssh-ed25519 is accepted")
    key = Ed25519PublicKey.from_public_bytes(key_bytes)
    try:
        key.verify(raw, _signed_data(message, hash_name.decode()))
    except InvalidSignature:
        raise ValueError("the signature does not match the action it is recorded with") from None
    return key


# -- allowed signers ----------------------------------------------------------------------------------------------


def allowed_signers(governance: Governance) -> list[AllowedKey]:
    """The allowed signers file the governance names (OpenSSH format: `principal [options] ssh-ed25519 KEY`)."""
    if governance.allowed_signers is None:
        raise ConfigError(
            "governance.allowed_signers: signed identities need an allowed signers file (one line per person: "
            "`name ssh-ed25519 AAAA...`, as git's gpg.ssh.allowedSignersFile)"
        )
    path = Path(governance.allowed_signers)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"governance.allowed_signers: cannot read {path}: {exc.strerror}") from None
    return _parsed_signers(str(path), text)


@cache
def _parsed_signers(path: str, text: str) -> list[AllowedKey]:
    keys: list[AllowedKey] = []
    owner: dict[str, AllowedKey] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _parse_line(line, f"{path}, line {number}")
        if found is None:
            continue
        first = owner.setdefault(found.fingerprint, found)
        if first.principal != found.principal:
            raise ConfigError(
                f"{found.where}: key {found.fingerprint} is already {first.principal}'s ({first.where}); one key "
                "belongs to one person, or four-eyes could be met with one key"
            )
        keys.append(found)
    return keys


def _parse_line(line: str, where: str) -> AllowedKey | None:
    tokens = re.findall(r'(?:[^\s"]|"[^"]*")+', line.strip())
    has_options = len(tokens) > 2 and not tokens[1].startswith(("ssh-", "ecdsa-", "sk-"))
    principals, options = tokens[0], tokens[1] if has_options else ""
    key_type, key_text = [*tokens[2 if has_options else 1 :], "", ""][:2]
    if "," in principals or any(c in principals for c in "*?!"):
        raise ConfigError(f"{where}: name one principal per key, exactly (got {principals!r})")
    settings = {}
    for option in re.findall(r'(?:[^,"]|"[^"]*")+', options):
        name, _, value = option.partition("=")
        settings[name.lower()] = value.strip('"')
    if "cert-authority" in settings:
        raise ConfigError(f"{where}: certificate authorities are not supported; list each person's own key")
    if "namespaces" in settings and NAMESPACE not in settings["namespaces"].split(","):
        return None  # a key allowed for other namespaces only (e.g. git)
    if key_type != KEY_TYPE.decode():
        raise ConfigError(f"{where}: a {key_type or 'missing'} key; only ssh-ed25519 keys sign (ssh-keygen -t ed25519)")
    try:
        key = Ed25519PublicKey.from_public_bytes(list(_fields(base64.b64decode(key_text, validate=True)))[1])
    except (ValueError, IndexError, struct.error):
        raise ConfigError(f"{where}: the ssh-ed25519 key of {principals} is not valid base64 key data") from None
    after, before = (_ssh_time(settings.get(name), where) for name in ("valid-after", "valid-before"))
    return AllowedKey(principals, key, fingerprint(key), after, before, where)


def _ssh_time(text: str | None, where: str) -> datetime | None:
    """An allowed signers time, `YYYYMMDD[HHMM[SS]][Z]`: UTC with `Z`, else local time (as OpenSSH reads it)."""
    if text is None:
        return None
    digits = text.removesuffix("Z").removesuffix("z")
    if not digits.isdigit() or len(digits) not in (8, 12, 14):
        raise ConfigError(f"{where}: {text!r} is not a time of the form YYYYMMDD[HHMM[SS]][Z]")
    parsed = datetime.strptime(digits.ljust(14, "0"), "%Y%m%d%H%M%S")
    return parsed.replace(tzinfo=UTC) if digits != text else parsed.astimezone(UTC)


# -- signing an action, verifying an entry ------------------------------------------------------------------------


def _passphrase(path: str) -> str:
    if PASSPHRASE_ENV in os.environ:
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise SignatureError(f"signing key {path} has a passphrase: give it in {PASSPHRASE_ENV}")
    return getpass.getpass(f"passphrase of {path}: ")


def _private_key() -> Ed25519PrivateKey:
    path = _KEY.get() or os.environ.get(KEY_ENV)
    if not path:
        raise SignatureError(
            f"governance.identity is signed: give your SSH key with --key or {KEY_ENV} "
            "(`ssh-keygen -t ed25519` creates one; its .pub line goes in the allowed signers file)"
        )
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise SignatureError(f"signing key {path}: {exc.strerror}") from None
    try:
        try:
            key = load_ssh_private_key(data, None)
        except TypeError:  # protected by a passphrase: from the environment, else asked on the terminal
            key = load_ssh_private_key(data, _passphrase(path).encode())
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"signing key {path} cannot be read: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"signing key {path} is not an ed25519 key (ssh-keygen -t ed25519 creates one)")
    return key


def principal(governance: Governance) -> str:
    """The principal the signing key belongs to in the allowed signers file."""
    return _listed(governance, _private_key().public_key())[0].principal


def sign(
    governance: Governance, by: str, model: str | None, action: str, at: datetime, message: bytes
) -> dict[str, Any]:
    """The payload entry proving `by` took `action` (`{}` when identities are claimed): refused unless `by`'s own
    key, valid at `at`, signs it and `governance.roles` lets `by` do it for `model`."""
    if governance.identity == CLAIMED:
        return {}
    private = _private_key()
    signer = _allowed_key(governance, private.public_key(), by, at)
    _check_role(governance, by, model, action)
    return {SIGNATURE: {"key": signer.fingerprint, "sshsig": sign_bytes(private, message)}}


def _listed(governance: Governance, key: Ed25519PublicKey) -> list[AllowedKey]:
    """The allowed signers file's lines of `key` (refused when it has none)."""
    printed = fingerprint(key)
    listed = [k for k in allowed_signers(governance) if k.fingerprint == printed]
    if not listed:
        raise SignatureError(
            f"key {printed} is not in the allowed signers file {governance.allowed_signers}: add its .pub line "
            "as `NAME ssh-ed25519 ...`"
        )
    return listed


def _allowed_key(governance: Governance, key: Ed25519PublicKey, by: str, at: datetime) -> AllowedKey:
    printed, listed = fingerprint(key), _listed(governance, key)
    if listed[0].principal != by:
        raise SignatureError(
            f"key {printed} is {listed[0].principal}'s ({listed[0].where}), not {by}'s: each person signs as "
            "themselves with their own key"
        )
    clock = datetime.now(UTC)  # an action dated inside the window does not revive a revoked key
    valid = [k for k in listed if k.valid_at(at) and k.valid_at(clock)]
    if not valid:
        when = at if not any(k.valid_at(at) for k in listed) else clock
        raise SignatureError(
            f"{by}'s key {printed} may sign from {listed[0].window()} ({listed[0].where}), not at "
            f"{when.astimezone(UTC).isoformat(timespec='seconds')}"
        )
    return valid[0]


def _check_role(governance: Governance, by: str, model: str | None, action: str) -> None:
    verb = VERBS[action]
    granted = governance.roles.get(verb)
    if granted is None:
        return  # a verb the roles do not mention is open to every allowed signer
    allowed = granted.get(model or "*", granted.get("*", ()))
    if by not in allowed:
        for_model = f" for {model}" if model else ""
        raise SignatureError(
            f"governance.roles.{verb}: {by} may not {verb}{for_model} (allowed: {', '.join(allowed) or 'nobody'})"
        )


def entry_problem(
    entry: AuditEntry, before: AuditEntry | None, keys: list[AllowedKey], person: Mapping[str, str]
) -> str | None:
    """What is wrong with a signed entry's signature (None: it verifies): the signature over the canonical action
    rebuilt from the entry, by a listed key valid at the entry's time, whose principal is the entry's actor
    (`person` maps a principal to its pseudonymous id), dated no earlier than the entry chained `before` it (a
    revoked key signing an action dated inside its window)."""
    if before is not None and entry.ts_utc < before.ts_utc - CLOCK_SKEW:
        return (
            f"{entry.action} of {entry.subject} is signed as of {entry.ts_utc.isoformat(timespec='seconds')}, before "
            f"the entry chained ahead of it (seq {before.seq}, {before.ts_utc.isoformat(timespec='seconds')}): "
            "backdated"
        )
    payload = json.loads(entry.payload)
    signature = payload[SIGNATURE]
    message = action_bytes(
        entry.actor, entry.action, entry.subject, payload, entry.ts_utc, entry.data_table or "", entry.data_version
    )
    try:
        key = signer_of(signature["sshsig"], message)
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        return f"the signature of {entry.action} of {entry.subject} does not verify: {exc}"
    listed = [k for k in keys if k.fingerprint == fingerprint(key)]
    if not listed:
        return f"{entry.action} of {entry.subject} is signed by key {fingerprint(key)}, which no allowed signer holds"
    if person.get(listed[0].principal) != entry.actor:
        return f"{entry.action} of {entry.subject} is signed by {listed[0].principal}, not by the person recorded"
    if not any(k.valid_at(entry.ts_utc) for k in listed):
        return (
            f"{entry.action} of {entry.subject} is signed by {listed[0].principal}'s key {listed[0].fingerprint} at "
            f"{entry.ts_utc.isoformat(timespec='seconds')}, outside its window ({listed[0].window()})"
        )
    return None


def identity_note(governance: Governance) -> str | None:
    """What a reader must be told wherever a person is shown: nothing when identities are signed."""
    return CLAIMS if governance.identity == CLAIMED else None
