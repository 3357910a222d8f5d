"""role/<name> on the original plugin's contract, against the emulator: shapes, validation,
the per-role CAM objects, and what a rejected or failed write leaves (nothing)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets_shim import logical
from tests.support.account import account, custom_policy_names, group_names, user_names
from tests.support.request_log import action_names
from tests.support.seed import COS_READ, DEMO_ROLE_ARN
from tests.unit.engine.support import Mount, data_of, error_of

CVM_DESCRIBE_DOC = {
    "version": "2.0",
    "statement": [{"effect": "allow", "action": ["cvm:Describe*"], "resource": "*"}],
}
CAM_DOC = {
    "version": "2.0",
    "statement": [{"effect": "allow", "action": "cam:GetUser", "resource": "*"}],
}


def _group_policies(emulator: RunningEmulator) -> dict[str, list[int]]:
    return {
        g["GroupName"]: sorted(int(p) for p in g["PolicyIds"]) for g in account(emulator)["Groups"]
    }


# --- the original's payloads and shapes ---------------------------------------------------


def test_original_payload_reads_back_in_the_original_shapes(
    engine: Mount, emulator: RunningEmulator
) -> None:
    payload: dict[str, Any] = {
        "remote_policies": [COS_READ, "policy_name:QcloudCamReadOnlyAccess,scope:QCS"],
        "inline_policies": json.dumps([CVM_DESCRIBE_DOC, CAM_DOC]),
        "ttl": "1h",
        "max_ttl": 86400,
    }
    assert engine("update", "role/app", **payload) is None
    first = data_of(engine("read", "role/app"))
    assert first["credential_type"] == "cam_user"
    assert first["remote_policies"] == [
        {"policy_name": "QcloudCOSReadOnlyAccess", "scope": "All", "policy_id": 219187},
        {"policy_name": "QcloudCamReadOnlyAccess", "scope": "QCS", "policy_id": 3},
    ]
    assert [p["policy_document"] for p in first["inline_policies"]] == [CVM_DESCRIBE_DOC, CAM_DOC]
    assert all(len(p["hash"]) == 32 for p in first["inline_policies"])
    assert (first["ttl"], first["max_ttl"], first["role_arn"]) == (3600, 86400, "")
    # Writing the same documents again keeps the hashes (and makes no new policy).
    engine("update", "role/app", inline_policies=json.dumps([CVM_DESCRIBE_DOC, CAM_DOC]))
    second = data_of(engine("read", "role/app"))
    assert second["inline_policies"] == first["inline_policies"]
    assert len(custom_policy_names(emulator)) == 2
    assert action_names(emulator).count("CreatePolicy") == 2


def test_one_group_per_role_carries_every_policy(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/app", remote_policies=COS_READ, inline_policies=[CVM_DESCRIBE_DOC])
    role = data_of(engine("read", "role/app"))
    [group] = role["cam_groups"]
    [inline] = role["cam_policies"]
    assert group_names(emulator) == [group["group_name"]]
    assert custom_policy_names(emulator) == [inline["policy_name"]]
    assert _group_policies(emulator) == {group["group_name"]: sorted([219187, inline["policy_id"]])}


def test_remote_policies_as_one_comma_string_and_by_id(engine: Mount) -> None:
    engine(
        "update",
        "role/app",
        remote_policies="policy_name:QcloudCOSReadOnlyAccess,scope:All,policy_id:2",
    )
    role = data_of(engine("read", "role/app"))
    assert role["remote_policies"] == [
        {"policy_name": "QcloudCOSReadOnlyAccess", "scope": "All", "policy_id": 219187},
        {"policy_name": "QcloudCamFullAccess", "scope": "QCS", "policy_id": 2},
    ]


def test_names_are_matched_exactly_not_by_substring(
    engine: Mount, emulator: RunningEmulator
) -> None:
    message = error_of(engine("update", "role/app", remote_policies="policy_name:QcloudCOSRead"))
    assert 'no CAM policy is named "QcloudCOSRead"' in message
    assert engine.stored("role/app") is None
    assert group_names(emulator) == []


def test_list_and_delete(engine: Mount, emulator: RunningEmulator) -> None:
    for name in ("b", "a"):
        engine("update", f"role/{name}", remote_policies=COS_READ)
    assert data_of(engine("list", "role/")) == {"keys": ["a", "b"]}
    assert engine("delete", "role/a") is None
    assert data_of(engine("list", "role/")) == {"keys": ["b"]}
    assert len(group_names(emulator)) == 1


def test_sts_roles_are_storage_only(engine: Mount, emulator: RunningEmulator) -> None:
    assert engine("update", "role/ar", role_arn=DEMO_ROLE_ARN, session_duration="1h") is None
    role = data_of(engine("read", "role/ar"))
    assert (role["credential_type"], role["role_arn"]) == ("assumed_role", DEMO_ROLE_ARN)
    assert "cam_groups" not in role
    assert action_names(emulator) == []


# --- validation: 400 naming the field, nothing written anywhere ---------------------------


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"credential_type": "root"}, "credential_type"),
        ({"credential_type": "cam_user"}, "needs at least one of remote_policies"),
        ({"credential_type": "assumed_role"}, "needs role_arn"),
        ({"credential_type": "federation_token"}, "needs session_policy"),
        ({"remote_policies": "scope:All"}, "needs a policy_name"),
        ({"remote_policies": "policy_name:A,scope:Everywhere"}, 'scope "Everywhere"'),
        ({"remote_policies": "name:A"}, 'unknown key "name"'),
        ({"remote_policies": "policy_id:x"}, 'policy_id "x"'),
        ({"inline_policies": "[{"}, "inline_policies: not valid JSON"),
        ({"inline_policies": "[1]"}, "inline_policies: document 1 must be a JSON object"),
        ({"inline_policies": '[{"version":"1.0","statement":[]}]'}, '"version": "2.0"'),
        (
            {"inline_policies": [{"version": "2.0", "statement": [{"effect": "allow"}]}]},
            'needs "action"',
        ),
        (
            {
                "inline_policies": [
                    {
                        "version": "2.0",
                        "statement": [
                            {
                                "effect": "allow",
                                "action": "name/sts:AssumeRole",
                                "resource": "*",
                                "principal": {"qcs": ["qcs::cam::uin/1:root"]},
                            }
                        ],
                    }
                ]
            },
            '"principal", which only role trust policies may have',
        ),
        (
            {
                "inline_policies": [
                    {
                        "version": "2.0",
                        "statement": [{"effect": "allow", "action": ["x" * 7000], "resource": "*"}],
                    }
                ]
            },
            "longer than CAM's 6144 characters",
        ),
        ({"remote_policies": COS_READ, "ttl": "2h", "max_ttl": "1h"}, "ttl must not be greater"),
        ({"remote_policies": COS_READ, "ttl": "soon"}, 'field "ttl"'),
        ({"role_arn": "arn:aws:iam::1:role/x"}, "role_arn"),
        ({"remote_policies": COS_READ, "external_id": "abc"}, "external_id applies only"),
        ({"role_arn": DEMO_ROLE_ARN, "remote_policies": COS_READ}, "remote_policies must be empty"),
        (
            {"role_arn": DEMO_ROLE_ARN, "session_duration": "13h"},
            "session_duration must be between",
        ),
        ({"role_arn": DEMO_ROLE_ARN, "session_policy": "{"}, "session_policy: not valid JSON"),
        ({"role_arn": DEMO_ROLE_ARN, "external_id": "x"}, "external_id must be 2 to 128"),
        ({"remote_policies": COS_READ, "username_template": "vault-{{.RoleName}}"}, "random N"),
        ({"remote_policies": COS_READ, "username_template": "{{nope}}-{{random 8}}"}, "unknown"),
        (
            {"remote_policies": COS_READ, "username_template": "{{.DisplayName}}-{{random 8}}"},
            "it must be 1 to 64",
        ),
        ({"remote_policies": COS_READ, "groups": ",".join(f"g{i}" for i in range(10))}, "groups"),
    ],
)
def test_bad_roles_are_refused_and_nothing_is_written(
    engine: Mount, emulator: RunningEmulator, data: dict[str, Any], rule: str
) -> None:
    assert rule in error_of(engine("update", "role/r", **data))
    assert engine.stored("role/r") is None
    assert engine.wal() == []
    assert (group_names(emulator), custom_policy_names(emulator)) == ([], [])


def test_failed_update_keeps_the_old_role(engine: Mount) -> None:
    engine("update", "role/r", remote_policies=COS_READ)
    before = engine.stored("role/r")
    assert "remote_policies must be empty" in error_of(
        engine("update", "role/r", credential_type="assumed_role")
    )
    assert engine.stored("role/r") == before


def test_unknown_extra_group_is_refused(engine: Mount, emulator: RunningEmulator) -> None:
    message = error_of(engine("update", "role/r", remote_policies=COS_READ, groups="nope"))
    assert 'no CAM user group is named "nope"' in message
    assert group_names(emulator) == []


# --- updates move the cloud objects along ---------------------------------------------------


def test_changing_inline_policies_replaces_their_custom_policies(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine("update", "role/r", inline_policies=[CVM_DESCRIBE_DOC, CAM_DOC])
    kept, _ = data_of(engine("read", "role/r"))["cam_policies"]
    engine("update", "role/r", inline_policies=[CVM_DESCRIBE_DOC])
    role = data_of(engine("read", "role/r"))
    assert role["cam_policies"] == [kept]
    assert custom_policy_names(emulator) == [kept["policy_name"]]
    [group] = role["cam_groups"]
    assert _group_policies(emulator) == {group["group_name"]: [kept["policy_id"]]}


def test_changing_remote_policies_reattaches_the_group(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine("update", "role/r", remote_policies=COS_READ)
    engine("update", "role/r", remote_policies="policy_id:3")
    [group] = group_names(emulator)
    assert _group_policies(emulator) == {group: [3]}
    assert action_names(emulator)[-2:] == ["AttachGroupPolicy", "DetachGroupPolicy"]


def test_unchanged_policies_cost_no_calls(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/r", remote_policies=COS_READ, inline_policies=[CVM_DESCRIBE_DOC])
    before = len(action_names(emulator))
    engine(
        "update", "role/r", remote_policies=COS_READ, inline_policies=[CVM_DESCRIBE_DOC], ttl="2h"
    )
    assert action_names(emulator)[before:] == []


def test_switching_to_sts_removes_the_cam_objects(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/r", remote_policies=COS_READ, inline_policies=[CVM_DESCRIBE_DOC])
    response = engine(
        "update", "role/r", role_arn=DEMO_ROLE_ARN, remote_policies=[], inline_policies=[]
    )
    assert response is None
    assert data_of(engine("read", "role/r"))["credential_type"] == "assumed_role"
    assert (group_names(emulator), custom_policy_names(emulator)) == ([], [])
    assert engine.storage.list("retired/") == []


# --- delete with and without live leases ------------------------------------------------------


def test_delete_removes_the_roles_objects(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/r", remote_policies=COS_READ, inline_policies=[CVM_DESCRIBE_DOC])
    assert engine("delete", "role/r") is None
    assert (group_names(emulator), custom_policy_names(emulator)) == ([], [])
    assert engine.storage.list("retired/") == []


def test_delete_with_live_leases_keeps_them_working_until_revoked(
    engine: Mount, emulator: RunningEmulator
) -> None:
    engine("update", "role/r", inline_policies=[CVM_DESCRIBE_DOC])
    issued = engine("read", "creds/r")
    assert issued is not None
    deleted = engine("delete", "role/r")
    assert deleted is not None
    assert "removed after those leases end" in deleted.warnings[0]
    assert len(group_names(emulator)) == 1  # the live credential keeps its permissions
    engine.rollback()  # the periodic sweep: the group still has a member
    assert len(group_names(emulator)) == 1
    assert engine.revoke(issued) is None
    engine.rollback()
    assert (group_names(emulator), custom_policy_names(emulator), user_names(emulator)) == (
        [],
        [],
        [],
    )
    assert engine.storage.list("retired/") == []


def test_a_recreated_role_gets_objects_of_its_own(engine: Mount, emulator: RunningEmulator) -> None:
    engine("update", "role/r", inline_policies=[CVM_DESCRIBE_DOC])
    issued = engine("read", "creds/r")
    engine("delete", "role/r")
    engine("update", "role/r", inline_policies=[CVM_DESCRIBE_DOC])
    assert len(group_names(emulator)) == 2
    assert issued is not None
    engine.revoke(issued)
    engine.rollback()
    [group] = group_names(emulator)
    assert data_of(engine("read", "role/r"))["cam_groups"][0]["group_name"] == group


def test_roles_the_original_plugin_stored_keep_working(
    engine: Mount, emulator: RunningEmulator
) -> None:
    """Same key, the original's JSON: durations in nanoseconds, documents under
    policy_document, no CAM objects yet. The first issue provisions them."""
    original = {
        "role_arn": "",
        "remote_policies": [
            {"policy_name": "QcloudCOSReadOnlyAccess", "scope": "All", "policy_id": 0}
        ],
        "inline_policies": [
            {"hash": "182ea48f5a55cbc418e73b047494ceee", "policy_document": CVM_DESCRIBE_DOC}
        ],
        "ttl": 3600 * 1_000_000_000,
        "max_ttl": 0,
    }
    engine.storage.put(logical.StorageEntry("role/legacy", json.dumps(original).encode()))
    role = data_of(engine("read", "role/legacy"))
    assert (role["credential_type"], role["ttl"]) == ("cam_user", 3600)
    assert role["inline_policies"][0]["policy_document"] == CVM_DESCRIBE_DOC
    issued = engine("read", "creds/legacy")
    assert issued is not None
    assert issued.secret is not None
    assert issued.secret.lease.ttl == 3600
    provisioned = data_of(engine("read", "role/legacy"))
    assert provisioned["remote_policies"][0]["policy_id"] == 219187
    [group] = provisioned["cam_groups"]
    assert group_names(emulator) == [group["group_name"]]
    before = len(action_names(emulator))
    engine("read", "creds/legacy")
    assert action_names(emulator)[before:] == ["AddUser", "AddUserToGroup"]
