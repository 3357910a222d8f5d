"""Secret types (renew/revoke routing, internal data) and TTL arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from tencentcloud_secrets import framework as fw
from tencentcloud_secrets_shim import logical

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


class Keys:
    """A secret type whose handlers record what Vault sent back."""

    def __init__(self) -> None:
        self.revoked: list[dict[str, object]] = []
        self.secret = fw.Secret(
            type="access_key",
            revoke=self.revoke,
            renew=self.renew,
            default_duration=300,
        )

    def revoke(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        assert request.secret is not None
        self.revoked.append(dict(request.secret.internal_data))
        return None

    def renew(self, request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return fw.renew_response(request, ttl=600, max_ttl=3600)


def _backend(keys: Keys) -> fw.Backend:
    def revoke_only(request: logical.Request, data: fw.FieldData) -> logical.Response | None:
        return None

    b = fw.Backend(secrets=[keys.secret, fw.Secret(type="sts", revoke=revoke_only)])
    b.setup(
        logical.BackendConfig(
            storage=logical.InmemStorage(), system_view=logical.StaticSystemView()
        )
    )
    return b


def test_secret_response_sets_secret_type_and_lease() -> None:
    keys = Keys()
    response = keys.secret.response({"id": "AKID"}, {"user": "u1"})
    assert response.data == {"id": "AKID"}
    assert response.secret is not None
    assert response.secret.internal_data == {"user": "u1", "secret_type": "access_key"}
    assert response.secret.lease.ttl == 300
    assert response.secret.lease.renewable is True
    override = keys.secret.response({}, None, ttl=30, max_ttl=60)
    assert override.secret is not None
    assert (override.secret.lease.ttl, override.secret.lease.max_ttl) == (30, 60)


def _lease_request(operation: str, internal: dict[str, object]) -> logical.Request:
    return logical.Request(
        operation=operation,
        path="",
        secret=logical.Secret(internal_data=internal, lease_id="tc/creds/app/abc"),
    )


def test_revoke_round_trips_internal_data() -> None:
    keys = Keys()
    b = _backend(keys)
    internal = keys.secret.response({}, {"user": "u1", "n": 3}).secret
    assert internal is not None
    assert b.handle_request(_lease_request("revoke", internal.internal_data)) is None
    assert keys.revoked == [{"user": "u1", "n": 3, "secret_type": "access_key"}]


def test_a_secret_type_says_which_revocations_may_run_on_the_event_loop() -> None:
    keys = Keys()
    quick = fw.Secret(
        type="quick",
        revoke=keys.revoke,
        inline_revoke=lambda internal: internal.get("kind") == "expires",
    )
    b = fw.Backend(secrets=[keys.secret, quick])

    def inline(operation: str, internal: dict[str, object]) -> bool:
        return b.prepare(_lease_request(operation, internal)).inline

    assert inline("revoke", {"secret_type": "quick", "kind": "expires"})
    assert not inline("revoke", {"secret_type": "quick", "kind": "deleted"})
    assert not inline("renew", {"secret_type": "quick", "kind": "expires"})
    assert not inline("revoke", {"secret_type": "access_key"})  # declares nothing
    assert not inline("revoke", {"secret_type": "unknown", "kind": "expires"})
    assert not b.prepare(logical.Request(operation="revoke", path="")).inline  # no secret


def test_renew_uses_the_handler() -> None:
    keys = Keys()
    response = _backend(keys).handle_request(_lease_request("renew", {"secret_type": "access_key"}))
    assert response is not None
    assert response.secret is not None
    assert (response.secret.lease.ttl, response.secret.lease.max_ttl) == (600, 3600)
    assert response.secret.lease_id == "tc/creds/app/abc"


def test_secret_without_renew_is_not_renewable() -> None:
    b = _backend(Keys())
    with pytest.raises(logical.UnsupportedOperation):
        b.handle_request(_lease_request("renew", {"secret_type": "sts"}))
    sts = b.secret("sts")
    assert sts is not None
    secret = sts.response({}).secret
    assert secret is not None
    assert secret.lease.renewable is False


@pytest.mark.parametrize("internal", [{}, {"secret_type": "unknown"}, {"secret_type": 5}])
def test_unknown_secret_type_is_an_error(internal: dict[str, object]) -> None:
    with pytest.raises(logical.CodedError, match="unsupported by this backend"):
        _backend(Keys()).handle_request(_lease_request("revoke", internal))


def test_revoke_without_secret_is_an_error() -> None:
    with pytest.raises(logical.CodedError, match="no secret"):
        _backend(Keys()).handle_request(logical.Request(operation="revoke", path=""))


def test_secret_type_names_are_checked() -> None:
    with pytest.raises(ValueError, match="secret type"):
        fw.Secret(type="bad-name", revoke=lambda r, d: None)


# --- TTLs -------------------------------------------------------------------------------

VIEW = logical.StaticSystemView(default_ttl=3600, max_ttl=86400)


def test_ttl_precedence() -> None:
    assert fw.calculate_ttl(VIEW, now=NOW).ttl == 3600
    assert fw.calculate_ttl(VIEW, backend_ttl=600, now=NOW).ttl == 600
    assert fw.calculate_ttl(VIEW, increment=60, backend_ttl=600, now=NOW).ttl == 60


def test_ttl_capped_by_backend_max() -> None:
    result = fw.calculate_ttl(VIEW, backend_ttl=7200, backend_max_ttl=5400, now=NOW)
    assert result.ttl == 5400
    assert result.warnings == (
        'TTL of "2h" exceeded the effective max_ttl of "1h30m"; TTL value is capped accordingly',
    )


def test_ttl_capped_by_remaining_lifetime() -> None:
    start = NOW - dt.timedelta(seconds=86400 - 100)
    result = fw.calculate_ttl(VIEW, increment=3600, start_time=start, now=NOW)
    assert result.ttl == 100
    with pytest.raises(logical.InvalidRequest, match="past the max TTL"):
        fw.calculate_ttl(VIEW, start_time=NOW - dt.timedelta(days=2), now=NOW)


def test_period_is_capped_to_max() -> None:
    result = fw.calculate_ttl(VIEW, period=10 * 86400, now=NOW)
    assert result.ttl == 86400
    assert "period" in result.warnings[0]


def test_explicit_max_is_most_restrictive() -> None:
    result = fw.calculate_ttl(
        VIEW, backend_ttl=3000, backend_max_ttl=5000, explicit_max_ttl=2000, now=NOW
    )
    assert result.ttl == 2000


def test_renew_response_requires_secret() -> None:
    with pytest.raises(logical.InvalidRequest):
        fw.renew_response(logical.Request(operation="renew", path=""), 1, 2)


def test_capped_ttl_caps_only_at_a_positive_backend_max() -> None:
    assert fw.capped_ttl(600, 0) == fw.TTLResult(600.0, ())
    assert fw.capped_ttl(0, 300) == fw.TTLResult(0.0, ())  # Vault applies the mount's default
    assert fw.capped_ttl(300, 300) == fw.TTLResult(300.0, ())
    capped = fw.capped_ttl(7200, 3600)
    assert capped.ttl == 3600
    assert capped.warnings == (
        'TTL of "2h" exceeded the effective max_ttl of "1h"; TTL value is capped accordingly',
    )
