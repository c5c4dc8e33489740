"""Settings for the database toolbox, read from the environment once."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
PGTAP_DIR = ROOT / "supabase" / "tests" / "database"
SCHEMA_DUMP = ROOT / "db" / "schema.sql"


class ConfigError(Exception):
    """A setting is present but unusable; the message says what to fix."""


def port(env: dict[str, str], name: str, default: int) -> int:
    """A TCP port setting; ConfigError naming it when it is not one."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name}={raw!r} is not a TCP port (1-65535)")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    """Where the database lives; unset values mean the embedded cluster under var/."""

    var_dir: Path
    database_url: str | None
    edge_database_url: str | None
    jobs_database_url: str | None
    pg_port: int
    dbname: str
    jwt_secret: str | None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            var_dir=Path(env.get("VAR_DIR") or ROOT / "var"),
            database_url=env.get("DATABASE_URL") or None,
            edge_database_url=env.get("EDGE_DATABASE_URL") or None,
            jobs_database_url=env.get("JOBS_DATABASE_URL") or None,
            pg_port=port(env, "PG_PORT", 54329),
            dbname=env.get("PG_DATABASE") or "attendance",
            jwt_secret=env.get("JWT_SECRET") or None,
        )


def local_secrets(var_dir: Path) -> dict[str, str]:
    """Development secrets for the embedded services (the cluster's passwords, Redis's password,
    the JWT secret, the key download URLs are signed with), generated once and kept in
    var/secrets.json."""
    path = var_dir / "secrets.json"
    names = (
        "pg_password",
        "authenticator_password",
        "jobs_password",
        "redis_password",
        "jwt_secret",
        "file_url_secret",
    )
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if all(n in stored for n in names):
        return stored
    for name in names:
        stored.setdefault(name, secrets.token_urlsafe(32))
    var_dir.mkdir(parents=True, exist_ok=True)
    var_dir.chmod(0o755)
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    return stored
