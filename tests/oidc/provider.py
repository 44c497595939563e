"""Run Node's certified ``oidc-provider`` (provider.mjs beside this file) on 127.0.0.1
and get access tokens from it with the client-credentials grant.

Each client stands for one person: its ``claims`` (role, unit, name) go into the
JWT access tokens the provider issues for ``AUDIENCE``; the token's ``sub`` is
the client id.
"""

import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

HERE = Path(__file__).resolve().parent
AUDIENCE = "urn:rectify:api"
SECRET = "client-secret-0123456789abcdef"


def node_ready() -> str | None:
    """Why the provider cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return f"run `npm install` in {HERE} (.ci/run does)"
    return None


def new_keys(kid: str) -> list[dict]:
    """A fresh RSA key (RS256, PS256) and EC P-256 key (ES256), as private JWKs."""
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048)))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    return [
        {**rsa_jwk, "kid": f"{kid}-rsa", "use": "sig"},
        {**ec_jwk, "kid": f"{kid}-ec", "use": "sig"},
    ]


def public_jwk(jwk: dict) -> dict:
    return {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}


@dataclass
class Client:
    client_id: str
    claims: dict
    ttl: int = 300
    alg: str = "RS256"


@dataclass
class OidcProvider:
    clients: list[Client]
    keys: list[dict] = field(default_factory=lambda: new_keys("k1"))
    port: int = 0
    issuer: str = ""
    process: subprocess.Popen | None = None
    _dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="oidc-")))

    def start(self) -> "OidcProvider":
        config = {
            "port": self.port,
            "audience": AUDIENCE,
            "jwks": {"keys": self.keys},
            "clients": [
                {
                    "client_id": c.client_id,
                    "client_secret": SECRET,
                    "claims": c.claims,
                    "ttl": c.ttl,
                    "alg": c.alg,
                }
                for c in self.clients
            ],
        }
        path = self._dir / "config.json"
        path.write_text(json.dumps(config))
        with (self._dir / "provider.log").open("w") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                ["node", str(HERE / "provider.mjs"), str(path)],
                cwd=HERE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("listening "):
                self.issuer = line.split()[1]
                self.port = int(self.issuer.rsplit(":", 1)[1])
                return self
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(
            f"oidc-provider did not start: {(self._dir / 'provider.log').read_text()}"
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def rotate(self, kid: str) -> None:
        """Restart on the same port signing with new keys (the old ones withdrawn)."""
        self.stop()
        self.keys = new_keys(kid)
        self.start()

    def token(self, client_id: str) -> str:
        """An access token from the provider's token endpoint (client-credentials grant)."""
        r = httpx.post(
            f"{self.issuer}/token",
            auth=(client_id, SECRET),
            data={"grant_type": "client_credentials", "resource": AUDIENCE, "scope": "api"},
        )
        r.raise_for_status()
        body = r.json()
        assert body["token_type"] == "Bearer", body
        return body["access_token"]

    def env(self) -> dict[str, str]:
        """The settings that point Rectify at this provider."""
        return {"RECTIFY_OIDC_ISSUER": self.issuer, "RECTIFY_OIDC_AUDIENCE": AUDIENCE}
