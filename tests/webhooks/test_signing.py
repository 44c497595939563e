import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks.signing import new_secret, sign, signed_headers

BODY = b'{"specversion":"1.0","id":"evt_1","type":"item.overdue","data":{"id":17}}'


def test_new_secret_is_prefixed_base64_of_32_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_known_vector_from_the_standard_webhooks_reference() -> None:
    signature = sign(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_headers_verify_with_standardwebhooks() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "msg_1", int(time.time()), BODY)
    assert headers["webhook-id"] == "msg_1"
    assert headers["content-type"] == "application/json"
    assert Webhook(secret).verify(BODY, headers)["id"] == "evt_1"


def test_two_secrets_each_verify_during_rotation() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers([old, new], "msg_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_tampered_body_fails() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "msg_3", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"17", b"18"), headers)


def test_signature_covers_id_and_timestamp() -> None:
    secret = new_secret()
    ts = int(time.time())
    base = sign([secret], "msg_4", ts, BODY)
    assert sign([secret], "msg_5", ts, BODY) != base
    assert sign([secret], "msg_4", ts + 1, BODY) != base


def test_sign_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        sign([], "msg", 0, BODY)
