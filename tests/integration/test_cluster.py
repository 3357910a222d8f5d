"""The plugin in a three-node Vault Raft cluster: credentials through the active node and
through standbys (forwarded), config that reaches every node, and leader failover (SIGTERM and
SIGKILL) with live leases and an issue in flight. After a failover the new active node must
renew and revoke every lease exactly once and roll back what the old one left half done; the
account must end with nothing that no live lease accounts for."""

from __future__ import annotations

import collections
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import hvac
import pytest

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tests.support.account import access_key_ids, user_names
from tests.support.cloud_client import client_as
from tests.support.mount_config import write_config
from tests.support.seed import DEMO_ROLE_ARN
from tools.cluster import Cluster, ClusterNode, wait_until


def _deletes(emulator: RunningEmulator) -> collections.Counter[str]:
    """DeleteUser calls per user name, from the emulator's request log."""
    return collections.Counter(str(e["params"]["Name"]) for e in emulator.requests("DeleteUser"))


def _wait(condition: Callable[[], bool], timeout: float, what: str, cluster: Cluster) -> None:
    try:
        wait_until(condition, timeout, what, step=0.5)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{cluster.logs()}") from None


def _issue_cam(node: ClusterNode, mount: str, count: int) -> dict[str, str]:
    """Lease id -> user name for ``count`` CAM credentials issued through ``node``."""
    leases = {}
    for _ in range(count):
        answer = node.client().read(f"{mount}/creds/cam")
        leases[answer["lease_id"]] = answer["data"]["username"]
    return leases


def test_credentials_through_the_active_node_and_standbys(
    cluster: Cluster, cluster_mount: str, emulator: RunningEmulator
) -> None:
    active = cluster.active()
    standbys = cluster.standbys()
    assert len(standbys) == 2
    write_config(standbys[0], cluster_mount, emulator)
    standbys[1].cli("write", f"{cluster_mount}/role/cam", "remote_policies=policy_id:3")
    active.cli("write", f"{cluster_mount}/role/sts", f"role_arn={DEMO_ROLE_ARN}")

    leases: dict[str, str] = {}
    for node in [active, *standbys]:
        cam = node.client().read(f"{cluster_mount}/creds/cam")
        leases[cam["lease_id"]] = cam["data"]["username"]
        with client_as(emulator, cam["data"]["secret_id"], cam["data"]["secret_key"]) as user:
            assert user.sts.get_caller_identity().type == "CAMUser"
        sts = node.client().read(f"{cluster_mount}/creds/sts")["data"]
        with client_as(emulator, sts["secret_id"], sts["secret_key"], sts["token"]) as session:
            assert session.sts.get_caller_identity().type == "CAMRole"
    assert user_names(emulator) == sorted(leases.values())
    # Only the active node runs the plugin; standbys forward to it.
    running = {node: pids for node, pids in cluster.plugin_pids().items() if pids}
    assert list(running) == [active.node_id]

    for lease, node in zip(leases, [*standbys, active], strict=True):
        renewed = node.client().sys.renew_lease(lease, increment=600)
        assert renewed["lease_duration"] == 600
        node.client().sys.revoke_lease(lease)
    _wait(lambda: user_names(emulator) == [], 30, "the revocations", cluster)
    assert _deletes(emulator) == collections.Counter(leases.values())


def test_config_written_on_one_node_takes_effect_on_every_node(
    cluster: Cluster,
    cluster_mount: str,
    emulator: RunningEmulator,
    emulator_factory: Callable[..., RunningEmulator],
) -> None:
    """The active node's plugin caches the config; a write through a standby goes to it, and
    a node that becomes active later reads what was written, not what it saw before. Two
    emulators stand for two STS endpoints: each AssumeRole shows where it went."""
    other = emulator_factory()
    first = cluster.active()
    a, b = cluster.standbys()
    write_config(a, cluster_mount, emulator)
    b.cli("write", f"{cluster_mount}/role/sts", f"role_arn={DEMO_ROLE_ARN}")

    def issue_through(node: ClusterNode) -> None:
        node.client().read(f"{cluster_mount}/creds/sts")

    def assumed() -> tuple[int, int]:
        return len(emulator.requests("AssumeRole")), len(other.requests("AssumeRole"))

    issue_through(b)
    assert assumed() == (1, 0)
    # Written through standby b, issued through standby a.
    b.cli("write", f"{cluster_mount}/config", f"sts_endpoint={other.endpoint}")
    issue_through(a)
    assert assumed() == (1, 1)
    # A new active node (its plugin freshly started); the old one is now a standby.
    second = cluster.step_down()
    issue_through(first)
    assert assumed() == (1, 2)
    # Back through the new active node; every node then issues from the first endpoint.
    second.cli("write", f"{cluster_mount}/config", f"sts_endpoint={emulator.endpoint}")
    for node in cluster.nodes:
        issue_through(node)
    assert assumed() == (4, 2)


def _renew_and_revoke_after_failover(
    cluster: Cluster, mount: str, emulator: RunningEmulator, leases: dict[str, str]
) -> None:
    """Every lease renews and revokes through the new cluster, each user deleted once."""
    new_active = cluster.active()
    nodes = [new_active, *cluster.standbys()]
    for index, lease in enumerate(leases):
        renewed = nodes[index % len(nodes)].client().sys.renew_lease(lease, increment=900)
        assert renewed["lease_id"] == lease
        assert renewed["lease_duration"] == 900
    for index, lease in enumerate(leases):
        nodes[(index + 1) % len(nodes)].client().sys.revoke_lease(lease)
    gone = set(leases.values())
    _wait(lambda: not gone & set(user_names(emulator)), 60, "the revocations", cluster)
    deletes = _deletes(emulator)
    assert {user: deletes[user] for user in gone} == dict.fromkeys(gone, 1)


def test_leader_stopped_with_sigterm_with_live_leases(
    cluster: Cluster, cluster_mount: str, emulator: RunningEmulator
) -> None:
    old = cluster.active()
    write_config(old, cluster_mount, emulator)
    old.cli("write", f"{cluster_mount}/role/cam", "remote_policies=policy_id:3", "ttl=10m")
    old.cli("write", f"{cluster_mount}/role/sts", f"role_arn={DEMO_ROLE_ARN}")
    leases = _issue_cam(old, cluster_mount, 2)
    leases |= _issue_cam(cluster.standbys()[0], cluster_mount, 2)
    sts_lease = old.client().read(f"{cluster_mount}/creds/sts")["lease_id"]

    stopped = cluster.stop_node(old, signal.SIGTERM)
    assert stopped.plugin_pids, "the active node ran no plugin"
    assert stopped.leftover_plugins == [], "the plugin outlived its stopped Vault"
    cluster.wait_active(other_than=old)
    assert user_names(emulator) == sorted(leases.values())

    _renew_and_revoke_after_failover(cluster, cluster_mount, emulator, leases)
    cluster.active().client().sys.revoke_lease(sts_lease)
    assert user_names(emulator) == []


def test_leader_killed_with_live_leases_and_an_issue_in_flight(
    cluster: Cluster, cluster_mount: str, emulator: RunningEmulator
) -> None:
    """SIGKILL: the old leader's plugin is orphaned in the middle of an issue (AddUser done,
    AddUserToGroup held by the emulator), its WAL entry is in Raft. The new leader's rollback
    manager must delete that user; live leases renew and revoke as before."""
    old = cluster.active()
    standby = cluster.standbys()[0]
    write_config(standby, cluster_mount, emulator)
    old.cli("write", f"{cluster_mount}/role/cam", "remote_policies=policy_id:3", "ttl=10m")
    leases = _issue_cam(old, cluster_mount, 2) | _issue_cam(standby, cluster_mount, 2)
    emulator.set_faults({"latency": {"per_action": {"AddUserToGroup": {"fixed_ms": 8000}}}})
    outcome: dict[str, Any] = {}

    def issue() -> None:
        try:
            outcome["answer"] = standby.client().read(f"{cluster_mount}/creds/cam")
        except Exception as exc:  # the active node dies under the forwarded request
            outcome["error"] = exc

    worker = threading.Thread(target=issue)
    worker.start()
    _wait(lambda: len(emulator.requests("AddUser")) > len(leases), 30, "the AddUser", cluster)
    time.sleep(1.0)  # AddUserToGroup is now held by the emulator
    stopped = cluster.stop_node(old, signal.SIGKILL)
    assert stopped.plugin_pids, "the active node ran no plugin"
    assert stopped.leftover_plugins == [], "the plugin outlived its killed Vault"
    cluster.wait_active(other_than=old)
    worker.join(60)
    assert not worker.is_alive()
    emulator.set_faults({"faults": []})
    # The forwarded request may have been retried on the new leader: that lease is real.
    retried = outcome.get("answer")
    if retried is not None:
        leases[retried["lease_id"]] = retried["data"]["username"]
    [orphan] = [u for u in user_names(emulator) if u not in leases.values()]

    _renew_and_revoke_after_failover(cluster, cluster_mount, emulator, leases)
    # The rollback manager runs about once a minute on the active node.
    _wait(lambda: orphan not in user_names(emulator), 150, "the rollback of the orphan", cluster)
    assert _deletes(emulator)[orphan] >= 1
    assert user_names(emulator) == []
    with pytest.raises(hvac.exceptions.InvalidRequest):
        cluster.active().client().sys.read_lease(next(iter(leases)))


def test_scheduled_rotation_runs_once_per_period_cluster_wide(
    cluster: Cluster, cluster_mount: str, emulator: RunningEmulator
) -> None:
    """Every node runs a plugin copy once it serves a request, but only the active node's
    periodic function rotates: one CreateAccessKey per due rotation, and every node then
    works with the new key."""
    with client_as(emulator, emulator.secret_id, emulator.secret_key) as root:
        user = root.cam.add_user(
            cm.AddUserRequest("vault-cluster-engine", remark="setup", use_api=True)
        )
        root.cam.attach_user_policy(cm.AttachUserPolicyRequest(1, user.uin))
    assert user.secret_id
    assert user.secret_key
    write_config(
        cluster.active(),
        cluster_mount,
        emulator,
        secret_id=user.secret_id,
        secret_key=user.secret_key,
    )
    for node in cluster.standbys():  # a request through each node
        node.cli("read", f"{cluster_mount}/config")
    cluster.active().cli("write", f"{cluster_mount}/config", "rotation_period=1m")

    def rotated() -> bool:
        config = cluster.active().client().read(f"{cluster_mount}/config")["data"]
        return bool(config["secret_id"] != user.secret_id)

    # Due after 1 min, seen at Vault's next rollback tick (about once a minute).
    _wait(rotated, 150, "the first scheduled rotation", cluster)
    creates = len(emulator.requests("CreateAccessKey"))
    assert creates == 1
    new_id = cluster.active().client().read(f"{cluster_mount}/config")["data"]["secret_id"]
    assert access_key_ids(emulator, user.uin) == [new_id]
    cluster.active().cli("write", f"{cluster_mount}/config", "rotation_period=0")
    for node in cluster.nodes:
        node.cli("write", f"{cluster_mount}/role/cam", "remote_policies=policy_id:3")
        lease = node.client().read(f"{cluster_mount}/creds/cam")["lease_id"]
        node.client().sys.revoke_lease(lease)
