"""People: access tokens from the organisation's OpenID Connect provider.

PyJWT checks signatures and claims; this module only decides which keys and
algorithms to trust. Keys come from the provider's JWKS (found through
discovery unless ``RECTIFY_OIDC_JWKS_URL`` names it), are cached, and are
fetched again when a token names an unknown ``kid`` -- at most once a minute,
so a stream of forged ``kid``s cannot make the service hammer the provider.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKClient

from app.errors import ProblemError, Unauthorized
from app.settings import Settings, get_settings

ALGORITHMS = ("RS256", "PS256", "ES256")
_KEY_TYPE = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}
REFETCH_AFTER_S = 60.0
"""An unknown ``kid`` refetches the keys only this long after the last fetch."""
KEYS_MAX_AGE_S = 3600.0
"""Known keys are refreshed this often anyway (a key the provider withdrew stops working)."""
VERIFIED_CACHE_SIZE = 4096
FETCH_TIMEOUT_S = 10.0
MAX_SUBJECT, MAX_NAME = 128, 100
"""History names a person as ``role:name <subject>`` in at most 250 characters."""


class ProviderUnavailable(ProblemError):
    status, title, slug = 503, "Identity provider unavailable", "identity-provider-unavailable"


@dataclass(frozen=True)
class Person:
    """What a verified access token says about who is calling."""

    subject: str
    name: str
    role: str | None
    unit_code: str | None
    expires_at: float


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


def _claim(claims: dict, path: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class KeySet:
    """The provider's signing keys by ``kid``, each with the algorithm it declares."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.clock = url, clock
        self.keys: dict[str | None, tuple[PyJWK, str | None]] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        self.fetched_at, self.fetches = self.clock(), self.fetches + 1
        try:
            data = PyJWKClient(self.url, cache_jwk_set=False, timeout=FETCH_TIMEOUT_S).fetch_data()
        except jwt.PyJWTError:
            return  # keep serving the keys we have while the provider is away
        keys = {}
        for raw in data.get("keys", []) if isinstance(data.get("keys"), list) else []:
            try:
                key = PyJWK(raw)
            except jwt.PyJWTError:
                continue  # a key type this service does not use
            if key.public_key_use in ("sig", None):
                keys[key.key_id] = (key, raw.get("alg"))
        if len(keys) == 1:
            keys.setdefault(None, next(iter(keys.values())))
        if keys:
            self.keys = keys

    def get(self, kid: str | None) -> tuple[PyJWK, str | None] | None:
        """The key named ``kid``; an unknown one refetches the set if the last fetch is a
        minute old. 503 while no key could ever be fetched."""
        known = self.keys.get(kid)
        if known is not None and self.clock() - (self.fetched_at or 0.0) < KEYS_MAX_AGE_S:
            return known
        with self._lock:
            age = None if self.fetched_at is None else self.clock() - self.fetched_at
            if age is None or age >= (KEYS_MAX_AGE_S if known else REFETCH_AFTER_S):
                self._fetch()
            if not self.keys:
                raise ProviderUnavailable("The identity provider's signing keys are unavailable.")
            return self.keys.get(kid)


class Verifier:
    """Verifies access tokens for one configuration (issuer, audience, claims)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer or ""
        self.audience = settings.oidc_audience or ""
        self.leeway = settings.oidc_leeway_s
        self.clock = clock
        self._jwks_url = settings.oidc_jwks_url
        self._keys: KeySet | None = None
        self._discovery_failed_at: float | None = None
        self._verified: dict[str, Person] = {}
        self._lock = threading.Lock()

    def keys(self) -> KeySet:
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    self._keys = KeySet(self._jwks_url or self._discover(), self.clock)
        return self._keys

    def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        failed = self._discovery_failed_at
        if failed is not None and self.clock() - failed < REFETCH_AFTER_S:
            raise ProviderUnavailable(f"OpenID Connect discovery at {url} failed recently.")
        self._discovery_failed_at = self.clock()
        try:
            response = httpx.get(url, timeout=FETCH_TIMEOUT_S)
            response.raise_for_status()
            config = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"OpenID Connect discovery at {url} failed: {exc}") from None
        if config.get("issuer") != self.issuer or not config.get("jwks_uri"):
            raise ProviderUnavailable(
                f"{url} names the issuer {config.get('issuer')!r}, not {self.issuer!r}."
            )
        self._discovery_failed_at = None
        return str(config["jwks_uri"])

    def verify(self, token: str) -> Person:
        """The person a valid token names; 401 for any token that is not one."""
        person = self._verified.get(token)
        if person is not None and time.time() < person.expires_at + self.leeway:
            return person
        person = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified), ""), None)
        self._verified[token] = person
        return person

    def _verify(self, token: str) -> Person:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The bearer token is not a valid JWT.") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthorized(f"Tokens signed with {alg!r} are not accepted.")
        found = self.keys().get(header.get("kid"))
        if found is None:
            raise Unauthorized(
                "The token is signed with a key the identity provider does not list."
            )
        key, declared_alg = found
        if key.key_type != _KEY_TYPE[alg] or (declared_alg or alg) != alg:
            raise Unauthorized(f"The token's algorithm {alg} does not match its key.")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("The token is not valid yet.") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("The token is not meant for this service (aud).") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("The token comes from another issuer (iss).") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"The token is invalid: {exc}.") from None
        return self._person(claims)

    def _person(self, claims: dict) -> Person:
        s = self.settings
        subject = str(claims["sub"])
        if not subject or len(subject) > MAX_SUBJECT or not subject.isprintable():
            raise Unauthorized(
                f"The token's subject must be 1 to {MAX_SUBJECT} printable characters."
            )
        name = _claim(claims, s.oidc_name_claim) or claims.get("preferred_username") or subject
        name = "".join(c for c in str(name) if c.isprintable())[:MAX_NAME] or subject
        role = _claim(claims, s.oidc_role_claim)
        if isinstance(role, list):
            roles = [r for r in role if r in ("admin", "supervisor", "unit", "viewer")]
            role = roles[0] if len(roles) == 1 else None
        unit = _claim(claims, s.oidc_unit_claim)
        return Person(
            subject=subject,
            name=name,
            role=role if isinstance(role, str) else None,
            unit_code=unit if isinstance(unit, str) and unit else None,
            expires_at=float(claims["exp"]),
        )


_current: Verifier | None = None


def verifier() -> Verifier | None:
    """The verifier for the current settings; None when no issuer is configured."""
    global _current
    settings = get_settings()
    if not settings.oidc_issuer:
        return None
    if _current is None or _current.settings is not settings:
        if not settings.oidc_audience:
            raise ProviderUnavailable(
                "RECTIFY_OIDC_AUDIENCE must be set beside RECTIFY_OIDC_ISSUER."
            )
        _current = Verifier(settings)
    return _current
