"""Role writes refuse oversized names and templates with a short 400 that names the field,
before anything is built, stored or sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tencentcloud_secrets.paths.roles import MAX_ROLE_NAME_CHARS
from tencentcloud_secrets.role import Role, write_role
from tencentcloud_secrets.templates import MAX_TEMPLATE_CHARS
from tencentcloud_secrets_shim import logical
from tests.support.seed import DEMO_ROLE_ARN
from tests.unit.engine.support import Mount, error_of

BOMB = "{{.RoleName" + ' | replace "" "aaaaaaaaaa"' * 7 + "}}"
MAX_MESSAGE_CHARS = 300


def _refused(mount: Mount, path: str, **data: Any) -> str:
    message = error_of(mount("update", path, **data))
    assert len(message) <= MAX_MESSAGE_CHARS, message[:500]
    assert mount.storage.list("role/") == []
    assert mount.storage.list("static-role/") == []
    return message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"remote_policies": "policy_id:3", "username_template": BOMB}, "username_template"),
        ({"role_arn": DEMO_ROLE_ARN, "session_name_template": BOMB}, "session_name_template"),
    ],
)
def test_the_reported_template_is_a_short_400(
    mount: Mount, data: dict[str, str], field: str
) -> None:
    message = _refused(mount, "role/app", **data)
    assert message.startswith(f"{field}: ")
    assert "non-empty string to search for" in message


def test_an_overlong_template_is_a_400_naming_the_field(mount: Mount) -> None:
    template = "vault-{{random 8}}-" + "x" * MAX_TEMPLATE_CHARS
    message = _refused(mount, "role/app", role_arn=DEMO_ROLE_ARN, session_name_template=template)
    assert message.startswith("session_name_template: the template is ")
    assert f"at most {MAX_TEMPLATE_CHARS}" in message


def test_a_too_long_sample_name_is_quoted_briefly(mount: Mount) -> None:
    # Within every cap, but its names break CAM's 64-character limit for users.
    template = '{{random 8}}{{.DisplayName | replace "d" "ddd"}}'
    message = _refused(mount, "role/app", remote_policies="policy_id:3", username_template=template)
    assert "200 characters; it must be 1 to 64" in message
    assert "d" * 100 not in message  # an excerpt of the sample, not all of it


def test_role_names_are_capped(mount: Mount) -> None:
    longest = "r" * MAX_ROLE_NAME_CHARS
    assert mount("update", f"role/{longest}", role_arn=DEMO_ROLE_ARN) is None
    assert mount.stored(f"role/{longest}") is not None
    mount.storage.delete(f"role/{longest}")
    message = _refused(mount, "role/" + "r" * 5000, role_arn=DEMO_ROLE_ARN)
    assert message.startswith('name "rrrr')
    assert f"5000 characters; role names may have at most {MAX_ROLE_NAME_CHARS}" in message


def test_a_role_stored_before_the_cap_stays_editable(mount: Mount) -> None:
    name = "r" * (MAX_ROLE_NAME_CHARS + 50)
    write_role(mount.storage, name, Role(role_arn=DEMO_ROLE_ARN, credential_type="assumed_role"))
    assert mount("update", f"role/{name}", session_duration="1h") is None
    stored = mount.stored(f"role/{name}")
    assert stored is not None
    assert stored["session_duration"] == 3600


def test_static_role_names_are_capped(mount: Mount) -> None:
    message = _refused(mount, "static-roles/" + "s" * 300, username="ci-bot")
    assert message.startswith('name "ssss')
    assert f"at most {MAX_ROLE_NAME_CHARS}" in message
    assert json.dumps(mount.storage.list("")) == "[]"


def test_a_stored_template_todays_rules_refuse_is_a_400_at_issue(engine: Mount) -> None:
    """A role written before the template caps may hold a template they refuse."""
    engine("update", "role/app", remote_policies="policy_id:3")
    stored = engine.stored("role/app")
    assert stored is not None
    stored["username_template"] = '{{.RoleName | replace "" "a"}}-{{random 8}}'
    engine.storage.put(logical.StorageEntry("role/app", json.dumps(stored).encode()))
    engine.backend.cleanup()  # the mount's cache forgets the role, as after a restart
    with pytest.raises(logical.CodedError) as err:
        engine("read", "creds/app")
    assert err.value.status == 400
    assert "username_template" in str(err.value)
