"""API keys (env var or file, never config), OpenAI-shaped 401, per-key 429 with Retry-After."""

import pytest

from serve_app.auth import AuthConfig, Authenticator, RateLimitConfig, load_keys
from serve_app.errors import APIError
from serve_app.rate_limit import TokenBucket
from tests.unit.fakes import Clock


def test_no_keys_means_auth_off():
    auth = Authenticator(load_keys(AuthConfig(), environ={}), RateLimitConfig())
    assert not auth.enabled and auth.check(None) is None


def test_keys_from_env_and_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text("# team keys\nkey-file-1\n\n")
    keys = load_keys(AuthConfig(keys_env="MY_KEYS", keys_file=str(path)), environ={"MY_KEYS": "a, b"})
    assert keys == ["a", "b", "key-file-1"]


def test_required_without_keys_refuses_to_start():
    with pytest.raises(ValueError, match="required"):
        load_keys(AuthConfig(required=True), environ={})


def test_config_has_no_place_for_a_key():
    with pytest.raises(ValueError):
        AuthConfig.model_validate({"keys": ["secret"]})


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer wrong"])
def test_missing_or_wrong_key_is_openai_401(header):
    auth = Authenticator(["right"], RateLimitConfig())
    with pytest.raises(APIError) as info:
        auth.check(header)
    error = info.value
    assert error.status == 401 and error.body()["error"]["code"] == "invalid_api_key"
    assert error.headers["www-authenticate"] == "Bearer"


def test_right_key_passes_and_is_identified_by_digest_prefix():
    auth = Authenticator(["right", "other"], RateLimitConfig())
    key_id = auth.check("Bearer right")
    assert len(key_id) == 8 and "right" not in key_id
    assert auth.check("bearer other") != key_id


def test_rate_limit_is_per_key_429_with_retry_after():
    clock = Clock()
    limits = RateLimitConfig(requests_per_s=1.0, burst=2)
    auth = Authenticator(["a", "b"], limits, clock)
    auth.check("Bearer a")
    auth.check("Bearer a")
    with pytest.raises(APIError) as info:
        auth.check("Bearer a")
    assert info.value.status == 429 and info.value.headers["retry-after"] == "1"
    assert info.value.body()["error"]["code"] == "rate_limit_exceeded"
    assert auth.check("Bearer b")  # another key has its own bucket
    clock.now += 1.0
    assert auth.check("Bearer a")


def test_token_bucket_refills_at_its_rate_up_to_burst():
    clock = Clock()
    bucket = TokenBucket(2.0, 3, clock)
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 100
    assert [bucket.take() is None for _ in range(4)] == [True, True, True, False]
