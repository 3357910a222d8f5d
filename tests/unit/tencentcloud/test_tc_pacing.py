"""Client-side pacing at the documented rate limits."""

from __future__ import annotations

import concurrent.futures
from time import time as wallclock

from tencentcloud_emulator.testing import RunningEmulator
from tencentcloud_secrets.tencentcloud import models_cam as cm
from tencentcloud_secrets.tencentcloud.models_sts import AssumeRoleRequest
from tencentcloud_secrets.tencentcloud.pacing import COOL_DOWN, Pacer
from tests.support.seed import DEMO_ROLE_ARN
from tests.unit.tencentcloud.support import ClientFactory


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_burst_goes_at_the_documented_rate() -> None:
    time = FakeTime()
    pacer = Pacer({"AddUser": 20.0}, {}, clock=time.clock, sleep=time.sleep, headroom=1.0)
    waits = [pacer.wait("cam", "AddUser") for _ in range(25)]
    assert waits[:20] == [0.0] * 20
    assert [round(w, 3) for w in waits[20:]] == [0.05, 0.1, 0.15, 0.2, 0.25]
    time.now += 1.0  # a second later the bucket has refilled (minus what was borrowed)
    assert pacer.wait("cam", "AddUser") == 0.0


def test_actions_and_services_have_their_own_buckets() -> None:
    time = FakeTime()
    pacer = Pacer(
        {"AssumeRole": 600.0}, {"cam": 2.0}, clock=time.clock, sleep=time.sleep, headroom=1.0
    )
    assert [pacer.wait("cam", "AddUser") for _ in range(3)][-1] > 0
    assert pacer.wait("cam", "DeleteUser") == 0.0
    pacer.throttled("AssumeRole")
    assert all(pacer.wait("sts", "AssumeRole") == 0.0 for _ in range(600))
    assert pacer.wait("sts", "AssumeRole") > 0
    assert pacer.wait("other", "Anything") == 0.0  # no known limit: no pacing


def test_a_high_limit_is_paced_only_after_the_service_throttled_it() -> None:
    time = FakeTime()
    pacer = Pacer({"AssumeRole": 600.0}, {}, clock=time.clock, sleep=time.sleep, headroom=1.0)
    assert all(pacer.wait("sts", "AssumeRole") == 0.0 for _ in range(5000))  # never throttled
    pacer.throttled("AssumeRole")
    waits = [pacer.wait("sts", "AssumeRole") for _ in range(700)]
    assert waits[:600] == [0.0] * 600
    assert waits[-1] > 0  # paced at the documented rate from the first throttled answer
    time.now += COOL_DOWN + 1  # no throttled answer for a while: unpaced again
    assert all(pacer.wait("sts", "AssumeRole") == 0.0 for _ in range(5000))


def test_a_throttled_answer_starts_pacing_a_high_limit(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    time = FakeTime()
    # Real timestamps: the fixture's clock moves a second per signature, too far for 1,200.
    client = make_client(pacer=Pacer(clock=time.clock, sleep=time.sleep), now=wallclock)
    request = AssumeRoleRequest(DEMO_ROLE_ARN, "pacing")
    for _ in range(600):  # more than the bucket holds in one (frozen) second: never paced
        client.sts.assume_role(request)
    assert time.slept == []
    throttle = {"action": "AssumeRole", "code": "RequestLimitExceeded", "nth": 1, "times": 1}
    emulator.set_faults({"faults": [throttle]})
    client.sts.assume_role(request)  # throttled once, retried at once (no pacing yet)
    assert time.slept == []
    for _ in range(600):
        client.sts.assume_role(request)
    assert time.slept  # paced now: the bucket ran dry within the frozen second


def test_never_waits_past_the_deadline() -> None:
    time = FakeTime()
    pacer = Pacer({}, {"cam": 1.0}, clock=time.clock, sleep=time.sleep, headroom=1.0)
    pacer.wait("cam", "AddUser")
    assert pacer.wait("cam", "AddUser", deadline=time.now + 0.5) == 0.0
    assert time.slept == []
    assert pacer.wait("cam", "AddUser", deadline=time.now + 5) == 1.0  # the slot was given back


def test_a_burst_against_the_emulator_is_not_throttled(
    emulator: RunningEmulator, make_client: ClientFactory
) -> None:
    client = make_client()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda n: client.cam.add_user(cm.AddUserRequest(f"burst-{n}", remark=str(n))),
                range(30),
            )
        )
    outcomes = [entry["code"] for entry in emulator.requests("AddUser")]
    assert len(outcomes) == 30
    assert set(outcomes) == {"Success"}
