from __future__ import annotations

from pathlib import Path

import pytest

from ems.app import create_app
from ems.config import Config
from ems.errors import ConfigError


def test_production_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SECRET_KEY",
        "RECORD_ENCRYPTION_KEY",
        "EMS_SECRET_KEY",
        "EMS_RECORD_ENCRYPTION_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as err:
        create_app({"ENV": "production", "DATABASE_URL": "sqlite://"})
    assert "SECRET_KEY" in str(err.value)
    assert "RECORD_ENCRYPTION_KEY" in str(err.value)


def test_production_starts_with_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("EMS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("EMS_RECORD_ENCRYPTION_KEY", "k1:" + "A" * 43 + "=")
    config = Config.from_env({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    assert config.SECRET_KEY == "s" * 40
    assert config.is_production


def test_development_never_shares_a_fixed_secret(tmp_path: object) -> None:
    a = Config.from_env({"ENV": "test", "PKI_DIR": f"{tmp_path}/pki"})
    b = Config.from_env({"ENV": "test", "PKI_DIR": f"{tmp_path}/pki"})
    assert a.SECRET_KEY and a.SECRET_KEY != b.SECRET_KEY


def test_env_defaults_to_production_outside_a_developer_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import ems.config

    for name in ("ENV", "EMS_ENV", "SECRET_KEY", "EMS_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert ems.config.default_env() == "development"  # this checkout
    monkeypatch.setattr(ems.config, "PROJECT_ROOT", tmp_path)  # an installed server
    assert ems.config.default_env() == "production"
    with pytest.raises(ConfigError) as err:
        Config.from_env({"PKI_DIR": str(tmp_path / "pki")})
    assert "SECRET_KEY" in str(err.value)
    # Nothing was written beside the database: no development record key.
    assert not (tmp_path / "dev-record-key").exists()


def test_an_unknown_env_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENV must be one of"):
        Config.from_env({"ENV": "prod", "PKI_DIR": str(tmp_path / "pki")})


def test_demo_commands_refuse_to_run_in_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from card_issuer.cli import main as issuer_main
    from ems.cli import main

    monkeypatch.setenv("EMS_ENV", "production")
    monkeypatch.setenv("EMS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("EMS_RECORD_ENCRYPTION_KEY", "k1:" + "A" * 43 + "=")
    db = tmp_path / "p.sqlite3"
    monkeypatch.setenv("EMS_DATABASE_URL", f"sqlite:///{db}")
    result = CliRunner().invoke(main, ["seed-demo"])
    assert result.exit_code != 0
    assert "does not run in production" in result.output
    assert "Traceback" not in result.output
    assert not db.exists()  # refused before the database was even created
    issued = CliRunner().invoke(
        issuer_main, ["seed-demo", "--issuer-dir", str(tmp_path / "issuer")]
    )
    assert issued.exit_code != 0 and "does not run in production" in issued.output


def test_metrics_need_the_token_when_one_is_set() -> None:
    from ems.errors import EmsError
    from ems.metrics import require_metrics_token

    require_metrics_token("", "", production=False)  # a developer's checkout: open
    with pytest.raises(EmsError) as err:
        require_metrics_token("", "Bearer anything", production=True)
    assert err.value.status == 404
    with pytest.raises(EmsError) as err:
        require_metrics_token("t" * 32, "Bearer wrong", production=False)
    assert (err.value.status, err.value.code) == (401, "metrics_token_required")
    require_metrics_token("t" * 32, "Bearer " + "t" * 32, production=True)
