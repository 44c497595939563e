"""Settings from the environment (prefix ``RECTIFY_``)."""

import logging
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed package: its ``workflows/`` and ``migrations/`` ship inside it."""
REPO_ROOT = PACKAGE_DIR.parent
"""The source tree's root (tests and benchmarks only: an installed wheel has none)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECTIFY_", extra="ignore")

    database_url: str = "sqlite:///./rectify.db"
    database_pool_size: int = Field(default=20, ge=1)
    """PostgreSQL connections each process keeps open (``app.db.POSTGRES_MAX_OVERFLOW``
    more in a burst): the requests and jobs it runs at once, so that steady load
    never opens a connection."""
    bootstrap_admin_token: str | None = None
    timezone: str = "Asia/Shanghai"
    workflows_dir: Path = PACKAGE_DIR / "workflows"
    evidence_dir: Path = Path("./evidence")
    max_upload_mb: int = Field(default=20, ge=1)
    max_json_kb: int = Field(default=1024, ge=1)
    max_import_rows: int = Field(default=100_000, ge=1)
    history_key: str | None = None
    """The secret that anchors every item's history chain (HMAC over its head)."""
    history_key_file: Path | None = None
    """Where the generated key lives when ``history_key`` is unset; default
    ``history.key`` beside the evidence directory."""
    webhook_allowed_networks: str = ""
    test_clock: bool = False
    scan_interval_s: float = Field(default=30.0, gt=0)
    delivery_retry_schedule_s: str = "5,30,300,1800,7200,18000,36000"
    delivery_lease_s: float = Field(default=60.0, ge=20.0)
    """How long a claimed delivery is reserved for its worker; a worker that dies
    mid-send delays its deliveries by this much. At least the 15 s send timeout plus
    margin, so a live worker's send is never duplicated by another."""
    auto_migrate: bool = True
    log_json: bool = False
    log_level: str = "INFO"
    cors_origins: str = ""
    """Comma-separated origins whose scripts may call the API (``https://app.example.gov``)."""
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_role_claim: str = "rectify_role"
    oidc_unit_claim: str = "rectify_unit"
    oidc_name_claim: str = "name"
    oidc_leeway_s: float = Field(default=60.0, ge=0.0)
    console_oidc_client_id: str | None = None
    """The console's (public) client id at the provider named by ``oidc_issuer``."""
    console_oidc_scope: str = "openid profile"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "not a known time zone; use an IANA name such as Asia/Shanghai"
            ) from None
        return value

    @field_validator("delivery_retry_schedule_s")
    @classmethod
    def _retry_schedule(cls, value: str) -> str:
        from app.webhooks.retry import RetryPolicy

        if any(d < 0 for d in RetryPolicy.from_setting(value).delays):
            raise ValueError("seconds cannot be negative")
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        from app.webhooks.ssrf import parse_allowed_networks

        parse_allowed_networks(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if not isinstance(logging.getLevelName(value.upper()), int):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cors_origin_list(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def max_json_bytes(self) -> int:
        return self.max_json_kb * 1024

    @property
    def max_import_inflated_bytes(self) -> int:
        """An xlsx's unpacked size: 2 KiB a permitted row, at least 64 MiB."""
        return max(64 << 20, self.max_import_rows * 2048)

    @property
    def key_file(self) -> Path:
        return self.history_key_file or self.evidence_dir.resolve().parent / "history.key"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
