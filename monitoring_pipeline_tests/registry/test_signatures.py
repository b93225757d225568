"""Signed custody: an approval proves who approved (real ed25519 keys, real ssh-keygen, a real Delta lake)."""

import dataclasses
import json
import shlex
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from monitoring_pipeline.core.audit import entries_from_frame, entries_to_frame, next_entry
from monitoring_pipeline.core.config import ConfigError, ProjectConfig
from monitoring_pipeline.core.lifecycle import LifecycleError
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import models, signatures
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit
from monitoring_pipeline.registry.signatures import SignatureError, signing_with

NOW = datetime(2026, 10, 1, 9, tzinfo=UTC)
PEOPLE = ("ana", "bob", "carol")


def _key(path: Path) -> str:
    """A new ed25519 key in OpenSSH format at `path`; returns its public line."""
    private = Ed25519PrivateKey.generate()
    path.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    return private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


@pytest.fixture
def signed(lake, tmp_path: Path) -> tuple[ProjectConfig, Path, dict[str, Path]]:
    """The registry lake with signed identities: one key per person in an allowed signers file."""
    config, artifact = lake
    keys = {name: tmp_path / f"{name}_ed25519" for name in PEOPLE}
    lines = [f"{name} {_key(path)}" for name, path in keys.items()]
    (tmp_path / "allowed_signers").write_text("\n".join(["# who may sign", *lines]) + "\n")
    governance = dataclasses.replace(
        config.governance, identity="signed", allowed_signers=str(tmp_path / "allowed_signers")
    )
    return dataclasses.replace(config, governance=governance), artifact, keys


def _register(config: ProjectConfig, artifact: Path, keys: dict[str, Path], version: str = "1.0") -> None:
    with signing_with(str(keys["ana"])):
        models.register(config, "credit_risk", version, artifact, "logs/credit_risk", "", None, "ana", NOW)
        models.evaluate(config, "credit_risk", version, "holdout", "logs/credit_risk", "", {"auc": 0.8}, "ana", NOW)


def test_a_signed_history_verifies_and_the_audit_log_keeps_no_name(signed) -> None:
    config, artifact, keys = signed
    _register(config, artifact, keys)
    with signing_with(str(keys["bob"])):
        models.approve(config, "credit_risk", "1.0", "holdout AUC 0.80", "bob", NOW + timedelta(hours=1))
    result = verify_audit(config, now=NOW)
    assert result.ok and result.signed == 3, result
    approval = read_audit(config)[-1]
    assert approval.action == "model_approved" and "bob" not in approval.payload
    assert json.loads(approval.payload)["signature"]["sshsig"].startswith("-----BEGIN SSH SIGNATURE-----")


def test_an_approval_under_another_name_or_without_a_key_is_refused(signed) -> None:
    config, artifact, keys = signed
    _register(config, artifact, keys)
    with signing_with(str(keys["ana"])), pytest.raises(SignatureError, match=r"is ana's .*not bob's"):
        models.approve(config, "credit_risk", "1.0", "looks fine", "bob", NOW)
    with pytest.raises(SignatureError, match="give your SSH key with --key or MP_SIGNING_KEY"):
        models.approve(config, "credit_risk", "1.0", "looks fine", "bob", NOW)
    with signing_with(str(keys["ana"])), pytest.raises(LifecycleError, match="four-eyes"):
        models.approve(config, "credit_risk", "1.0", "my own", "ana", NOW)
    assert models.events(config, "credit_risk").is_empty()  # nothing refused was written
    assert verify_audit(config, now=NOW).ok


def test_one_key_cannot_stand_for_two_people(signed, tmp_path: Path) -> None:
    config, artifact, keys = signed
    file = Path(config.governance.allowed_signers)
    ana = next(line for line in file.read_text().splitlines() if line.startswith("ana "))
    file.write_text(file.read_text() + ana.replace("ana ", "anna ", 1) + "\n")
    with signing_with(str(keys["ana"])), pytest.raises(ConfigError, match=r"already ana's .*one key belongs to one"):
        models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", NOW)


def test_a_revoked_key_cannot_sign_after_its_window_and_its_earlier_signatures_stay_valid(signed) -> None:
    config, artifact, keys = signed
    file = Path(config.governance.allowed_signers)
    listed = file.read_text()
    _register(config, artifact, keys)  # at NOW, with no window yet
    revoked = datetime.now(UTC) - timedelta(minutes=1)  # revocation: a valid-before added to ana's line
    file.write_text(listed.replace("\nana ", f'\nana valid-before="{revoked:%Y%m%d%H%M%S}Z" '))
    for at in (datetime.now(UTC), NOW + timedelta(hours=1)):  # now, or dated back inside the window
        with (
            signing_with(str(keys["ana"])),
            pytest.raises(SignatureError, match=r"ana's key .* may sign from .*not at"),
        ):
            models.register(config, "credit_risk", "1.1", artifact, "logs/credit_risk", "", "1.0", "ana", at)
    result = verify_audit(config, now=NOW)
    assert result.ok and result.signed == 2, result
    file.write_text(listed.replace("\nana ", f'\nana valid-before="{NOW:%Y%m%d%H%M%S}Z" '))  # revoked before them
    result = verify_audit(config, now=NOW)
    assert not result.ok and "outside its window" in result.problem, result


def test_a_signature_dated_before_the_entry_ahead_of_it_is_reported_as_backdated(signed) -> None:
    config, artifact, keys = signed
    _register(config, artifact, keys)
    with signing_with(str(keys["bob"])):
        models.approve(config, "credit_risk", "1.0", "holdout AUC 0.80", "bob", NOW - timedelta(days=3))
    result = verify_audit(config, now=NOW)
    assert not result.ok and "backdated" in result.problem and result.first_bad_seq == 2, result


def test_a_key_with_a_passphrase_signs_with_it_from_the_environment(signed, tmp_path: Path, monkeypatch) -> None:
    config, artifact, _ = signed
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret", "-f", str(tmp_path / "locked")], check=True)
    public = (tmp_path / "locked.pub").read_text().split()
    file = Path(config.governance.allowed_signers)
    file.write_text(file.read_text().replace("\nana ", "\nold_ana ") + f"ana {public[0]} {public[1]}\n")
    with signing_with(str(tmp_path / "locked")), pytest.raises(SignatureError, match="give it in MP_SIGNING_PASS"):
        models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", NOW)
    monkeypatch.setenv(signatures.PASSPHRASE_ENV, "s3cret")
    with signing_with(str(tmp_path / "locked")):
        models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", NOW)
    assert verify_audit(config, now=NOW).signed == 1


def test_roles_say_who_may_do_what_for_which_model(signed) -> None:
    config, artifact, keys = signed
    roles = {"deploy": {"credit_risk": ("carol",)}, "approve": {"*": ("bob",)}}
    config = dataclasses.replace(config, governance=dataclasses.replace(config.governance, roles=roles))
    _register(config, artifact, keys)
    with signing_with(str(keys["bob"])):
        models.approve(config, "credit_risk", "1.0", "holdout AUC 0.80", "bob", NOW)
        with pytest.raises(SignatureError, match=r"governance.roles.deploy: bob may not deploy for credit_risk \("):
            models.deploy(config, "credit_risk", "1.0", "go", "bob", NOW)
    with signing_with(str(keys["carol"])):
        models.deploy(config, "credit_risk", "1.0", "go", "carol", NOW)
    assert verify_audit(config, now=NOW).signed == 4


def _rewrite_audit(config: ProjectConfig, change) -> None:
    """Rewrite the audit table with `change` applied to each entry's payload, the chain re-hashed (a tamperer
    with write access to the lake, and no exported head)."""
    entries, rewritten, head = read_audit(config), [], None
    for entry in entries:
        fields = {k: getattr(entry, k) for k in ("actor", "action", "subject", "data_table", "data_version")}
        head = next_entry(
            head,
            ts_utc=entry.ts_utc,
            payload=change(entry.action, json.loads(entry.payload)),
            commit_sha256=entry.commit_sha256,
            **fields,
        )
        rewritten.append(head)
    table = catalog.table(config, catalog.AUDIT_LOG)
    delta.overwrite(table, entries_to_frame(rewritten))
    assert entries_from_frame(delta.scan(table).sort("seq").collect())[-1].entry_hash == head.entry_hash


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda s: s | {"sshsig": s["sshsig"].replace(s["sshsig"].splitlines()[3], "A" * 70)}, "does not verify"),
        (None, "not signed, yet identities are signed"),
    ],
)
def test_a_tampered_or_stripped_signature_is_reported_by_audit_verify(signed, tamper, message: str) -> None:
    config, artifact, keys = signed
    _register(config, artifact, keys)
    with signing_with(str(keys["bob"])):
        models.approve(config, "credit_risk", "1.0", "holdout AUC 0.80", "bob", NOW)

    def change(action: str, payload: dict) -> dict:
        if action != "model_approved":
            return payload
        if tamper is None:
            return {k: v for k, v in payload.items() if k != "signature"}
        return payload | {"signature": tamper(payload["signature"])}

    _rewrite_audit(config, change)
    result = verify_audit(config, now=NOW)
    assert not result.ok and message in result.problem, result


def test_ssh_keygen_verifies_our_signatures_and_we_verify_its(tmp_path: Path) -> None:
    keygen = shutil.which("ssh-keygen")
    assert keygen, "ssh-keygen (OpenSSH) is needed to prove the signatures are standard SSH signatures"
    key = tmp_path / "id_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "bob", "-f", str(key)], check=True)
    public = key.with_suffix(".pub").read_text().split()
    (tmp_path / "allowed").write_text(f"bob {public[0]} {public[1]}\n")
    message = signatures.action_bytes("person:1", "model_approved", "m@1", {"v": 1}, NOW, "registry/x", 3)
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    ours = signatures.sign_bytes(load_ssh_private_key(key.read_bytes(), None), message)
    (tmp_path / "ours.sig").write_text(ours)
    verify = [keygen, "-Y", "verify", "-f", str(tmp_path / "allowed"), "-I", "bob", "-n", signatures.NAMESPACE]
    done = subprocess.run([*verify, "-s", str(tmp_path / "ours.sig")], input=message, capture_output=True)
    assert done.returncode == 0, done.stderr
    (tmp_path / "action").write_bytes(message)
    sign = [keygen, "-Y", "sign", "-f", str(key), "-n", signatures.NAMESPACE, str(tmp_path / "action")]
    subprocess.run(sign, check=True, capture_output=True)
    theirs = (tmp_path / "action.sig").read_text()
    assert (
        signatures.fingerprint(signatures.signer_of(theirs, message))
        in subprocess.run([keygen, "-l", "-f", str(key)], capture_output=True, text=True, check=True).stdout
    )
    with pytest.raises(ValueError, match="does not match"):
        signatures.signer_of(theirs, message + b" ")


def test_the_command_line_signs_with_key_and_names_the_principal(signed, tmp_path: Path, capsys) -> None:
    from monitoring_pipeline.cli import main
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG

    config, artifact, keys = signed
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = config.lake.root
    raw["governance"] = {"identity": "signed", "allowed_signers": "allowed_signers"}  # relative to the config
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    common = ["--config", str(path)]
    _register(config, artifact, keys)
    approve = ["models", "approve", "credit_risk", "1.0", "--reason", "holdout AUC 0.80", *common]
    with pytest.raises(SystemExit, match=r"error: key .* is ana's"):
        main([*approve, "--by", "bob", "--key", str(keys["ana"])])
    assert main([*approve, "--key", str(keys["bob"])]) == 0  # --by defaults to the key's principal
    assert "bob" in capsys.readouterr().out
    assert models.events(config, "credit_risk").select(pl.col("actor")).item() == "bob"
    assert main(["audit", "verify", *common]) == 0
    assert "3 signatures verified" in capsys.readouterr().out


def test_the_demo_registry_history_signed_by_its_people_verifies(tmp_path: Path) -> None:
    """The demo's registry history typed as it is (claimed names), but each command with its person's key."""
    from monitoring_pipeline.cli import main
    from monitoring_pipeline.demo.lake import build_demo_lake
    from monitoring_pipeline.demo.registry import registry_commands
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path / "lake")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    build_demo_lake(config, scale=0.05, progress=lambda _: None, label_feed=False)
    commands = registry_commands(config, path)
    people = sorted({argv[argv.index("--by") + 1] for argv in commands})
    keys = {name: tmp_path / f"{name}_ed25519" for name in people}
    (tmp_path / "allowed_signers").write_text("".join(f"{n} {_key(p)}\n" for n, p in keys.items()))
    raw["governance"] = {"identity": "signed", "allowed_signers": "allowed_signers"}
    path.write_text(yaml.safe_dump(raw))
    for argv in commands:
        assert main([*argv, "--key", str(keys[argv[argv.index("--by") + 1]])]) == 0, argv
    result = verify_audit(load_config(path))
    assert result.ok and result.signed == len(commands) > 30, result
    bob_as_carol = ["models", "retire", "credit_risk", "1.0", "--reason", "old", "--by", "carol"]
    with pytest.raises(SystemExit, match="is bob's"):
        main([*bob_as_carol, "--key", str(keys["bob"]), "--config", str(path)])


def test_readme_s_signed_identity_walkthrough(lake, tmp_path: Path, monkeypatch, capsys) -> None:
    """README's block as written, on a lake where ana (signing) registered credit_risk 1.3; only the key is made
    without a passphrase (no terminal here) and `~` is a temp home."""
    from monitoring_pipeline.cli import main
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config
    from monitoring_pipeline_tests.readme_commands import readme_commands

    keygen, echo, approve, verify = readme_commands("Signed identities: an approval that proves who approved")
    config, artifact = lake
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    ana = tmp_path / "ana_ed25519"
    (tmp_path / "allowed_signers").write_text(f"ana {_key(ana)}\n")
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = config.lake.root
    raw["governance"] = {"identity": "signed", "allowed_signers": "allowed_signers", "roles": {"approve": ["bob"]}}
    (tmp_path / "monitoring.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("MP_CONFIG", str(tmp_path / "monitoring.yaml"))
    with signing_with(str(ana)):
        _register(load_config(tmp_path / "monitoring.yaml"), artifact, {"ana": ana}, version="1.3")
    subprocess.run(["bash", "-c", f"{keygen} -N ''"], check=True, capture_output=True)
    subprocess.run(["bash", "-c", echo], check=True)
    env, _, command = approve.partition(" uv run monitoring-pipeline ")
    monkeypatch.setenv(*env.split("=", 1))
    assert main(shlex.split(command)) == 0
    assert "approved credit_risk 1.3 (by bob)" in capsys.readouterr().out
    assert main(shlex.split(verify.removeprefix("uv run monitoring-pipeline "))) == 0
    assert "3 signatures verified against" in capsys.readouterr().out


def test_a_signed_action_cut_off_before_its_entry_keeps_its_signature_when_completed(signed, monkeypatch) -> None:
    from monitoring_pipeline.io.delta import LakeWriteError
    from monitoring_pipeline.registry import audit_log

    config, artifact, keys = signed

    def unwritable(*_, **__) -> None:
        raise LakeWriteError("audit/log is read-only")

    monkeypatch.setattr(audit_log, "audit", unwritable)
    with signing_with(str(keys["ana"])), pytest.raises(LakeWriteError, match="is committed, but its audit entry"):
        models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", NOW)
    monkeypatch.undo()
    (entry,) = audit_log.complete_chain(config)  # from the commit's own metadata, signature included
    assert json.loads(entry.payload)["recorded_from_commit_info"] is True
    result = verify_audit(config, now=NOW)
    assert result.ok and result.signed == 1, result
