from __future__ import annotations

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
