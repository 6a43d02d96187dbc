"""Staff alerts through WeCom, DingTalk and Feishu robots, against a local server that answers like theirs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
import traceback

import pytest
from pydantic import SecretStr, ValidationError

from bot.webhooks import (
    WebhookClient,
    WebhookRejected,
    WebhookSettings,
    WebhookThrottled,
    WebhookUnavailable,
    send_with_retries,
)
from bot.webhooks.platforms import check_reply, dingtalk_sign, feishu_sign, mask_url
from tests.webhooks.fake_servers import REAL_LIMITS, FakeWebhookServer

ALERT = "【紧急】西园3号楼2单元楼道有燃气味，请网格员张敏立即到场处置！居民王阿姨 138****5678 报告。"
KINDS = ["wecom", "dingtalk", "feishu"]
SECRET = "SECa1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0"


class ManualClock:
    """The fake server's rate-limit clock; the fake sleep moves it instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock):
    async with FakeWebhookServer(clock=clock) as server:
        yield server


@pytest.fixture
async def client():
    async with WebhookClient(timeout=2.0) as webhook_client:
        yield webhook_client


def robot(fake: FakeWebhookServer, kind: str, **options) -> WebhookSettings:
    """Signed ("加签") robots for DingTalk and Feishu, as staff are told to set them up."""
    return fake.add_robot(kind, secret=None if kind == "wecom" else SECRET, **options)


# -- delivery -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
async def test_chinese_alert_arrives_intact_with_its_title(fake, client, kind):
    target = robot(fake, kind, name="网格员工作群")
    await client.send(target, ALERT, title="燃气泄漏")
    [message] = fake.delivered
    assert message.robot == "网格员工作群"
    assert message.text.startswith("【燃气泄漏】\n" + ALERT)


@pytest.mark.parametrize("kind", KINDS)
async def test_named_staff_and_everyone_are_mentioned(fake, client, kind):
    target = robot(fake, kind, mention_all=True)
    staff = "ou_zhangmin" if kind == "feishu" else "13800001111"
    await client.send(target, ALERT, mentions=[staff])
    [message] = fake.delivered
    assert message.mentions == (staff,) and message.at_all
    assert message.text.startswith(ALERT)


async def test_too_long_wecom_alert_is_shortened_not_lost(fake, client):
    target = robot(fake, "wecom")
    await client.send(target, "居民反映：" + "楼道灯坏了，" * 400)  # ~7 KB; WeCom takes 2048 bytes
    [message] = fake.delivered
    assert message.text.startswith("居民反映：楼道灯坏了") and message.text.endswith("…")
    assert len(message.text.encode()) <= 2048


# -- signing and misconfiguration -----------------------------------------------------

def test_signatures_follow_the_documented_recipes():
    # Recomputed by hand from the platforms' sample code, to catch the client and the fake agreeing on a mistake.
    digest = hmac.new(b"SECxyz", b"1700000000000\nSECxyz", hashlib.sha256).digest()
    assert dingtalk_sign("SECxyz", 1700000000000) == base64.b64encode(digest).decode()
    digest = hmac.new(b"1700000000\nSECxyz", b"", hashlib.sha256).digest()
    assert feishu_sign("SECxyz", 1700000000) == base64.b64encode(digest).decode()


async def test_dingtalk_signature_with_plus_and_slash_survives_url_encoding(fake):
    now = int(time.time())
    while not {"+", "/"} <= set(dingtalk_sign(SECRET, now * 1000)):  # base64 of the HMAC
        now += 1
    async with WebhookClient(clock=lambda: now) as skewed:
        await skewed.send(robot(fake, "dingtalk"), ALERT)
    assert fake.texts() == [ALERT]


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
async def test_signature_from_a_clock_two_hours_off_is_rejected(fake, kind):
    async with WebhookClient(clock=lambda: time.time() - 7200) as skewed:
        with pytest.raises(WebhookRejected):
            await skewed.send(robot(fake, kind), ALERT)
    assert fake.delivered == []


@pytest.mark.parametrize("kind, code", [("dingtalk", 310000), ("feishu", 19021)])
async def test_wrong_secret_is_rejected_once_not_retried(fake, client, clock, kind, code):
    target = robot(fake, kind).model_copy(update={"secret": SecretStr("SECwrong")})
    with pytest.raises(WebhookRejected) as caught:
        await send_with_retries(client, target, ALERT, sleep=clock.sleep)
    assert caught.value.code == code
    assert fake.requests == 1 and clock.slept == [] and fake.delivered == []


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
async def test_signed_robot_refuses_unsigned_alerts(fake, client, kind):
    target = robot(fake, kind).model_copy(update={"secret": None})
    with pytest.raises(WebhookRejected):
        await client.send(target, ALERT)
    assert fake.delivered == []


@pytest.mark.parametrize("kind, code", [("wecom", 93000), ("dingtalk", 300001), ("feishu", 19001)])
async def test_unknown_robot_key_is_rejected(fake, client, kind, code):
    good = robot(fake, kind)
    bad_url = good.url.replace("a1b2c3d4", "deadbeef", 1)
    with pytest.raises(WebhookRejected) as caught:
        await client.send(good.model_copy(update={"url": bad_url}), ALERT)
    assert caught.value.code == code


# -- throttling -----------------------------------------------------------------------

@pytest.mark.parametrize("kind, code", [("wecom", 45009), ("dingtalk", 130101), ("feishu", 9499)])
async def test_robot_over_its_minute_limit_is_throttled(fake, client, kind, code):
    target = robot(fake, kind)
    for n in range(REAL_LIMITS[kind]):
        await client.send(target, f"第{n + 1}条告警")
    with pytest.raises(WebhookThrottled) as caught:
        await client.send(target, "多出来的一条")
    assert caught.value.code == code or caught.value.status == 429
    assert caught.value.retry_after >= 60
    assert len(fake.delivered) == REAL_LIMITS[kind]
    other = robot(fake, kind)  # limits are per robot: another group still gets its alert
    await client.send(other, ALERT)


@pytest.mark.parametrize("status", [200, 429])
async def test_feishu_throttle_recognised_with_either_http_status(clock, client, status):
    async with FakeWebhookServer(clock=clock, limits={"feishu": 1}, feishu_throttle_status=status) as fake:
        target = robot(fake, "feishu")
        await client.send(target, "第一条")
        with pytest.raises(WebhookThrottled):
            await client.send(target, "第二条")


async def test_feishu_bad_request_is_not_mistaken_for_throttling(fake, client):
    with pytest.raises(WebhookRejected):
        check_reply(robot(fake, "feishu"), 400, {"code": 9499, "msg": "Bad Request", "data": {}})


@pytest.mark.parametrize("kind", KINDS)
async def test_throttled_alert_goes_out_after_the_window(clock, client, kind):
    async with FakeWebhookServer(clock=clock, limits={kind: 3}) as fake:
        target = robot(fake, kind)
        for n in range(3):
            await client.send(target, f"第{n + 1}条告警")
        await send_with_retries(client, target, ALERT, sleep=clock.sleep)
        assert fake.texts()[-1].startswith(ALERT) and len(fake.delivered) == 4
        assert clock.slept == [60.0]  # waited out the platform's minute, once


# -- outages --------------------------------------------------------------------------

async def test_gateway_errors_are_retried_and_delivered_once(fake, client, clock):
    target = robot(fake, "dingtalk")
    fake.fail_next(2)
    await send_with_retries(client, target, ALERT, sleep=clock.sleep)
    assert fake.texts() == [ALERT] and fake.requests == 3
    assert clock.slept == [1.0, 2.0]


async def test_gives_up_with_the_last_error_after_all_attempts(fake, client, clock):
    target = robot(fake, "wecom")
    fake.fail_next(10, status=503)
    with pytest.raises(WebhookUnavailable) as caught:
        await send_with_retries(client, target, ALERT, attempts=4, sleep=clock.sleep)
    assert caught.value.status == 503 and fake.requests == 4 and fake.delivered == []
    assert clock.slept == [1.0, 2.0, 4.0]


async def test_unreachable_or_hanging_robot_is_unavailable(fake):
    target = robot(fake, "feishu")
    fake.stall_next(1, seconds=1.0)
    async with WebhookClient(timeout=0.2) as quick:
        with pytest.raises(WebhookUnavailable):
            await quick.send(target, ALERT)
        closed_port = target.model_copy(update={"url": "http://127.0.0.1:9/open-apis/bot/v2/hook/abc"})
        with pytest.raises(WebhookUnavailable):
            await quick.send(closed_port, ALERT)


# -- secrets --------------------------------------------------------------------------

async def test_keys_and_secrets_never_reach_the_logs(fake, client, clock, caplog):
    caplog.set_level(logging.DEBUG)
    targets = {kind: robot(fake, kind) for kind in KINDS}
    secrets = [SECRET, *(t.url.rsplit("=", 1)[-1].rsplit("/", 1)[-1] for t in targets.values())]
    fake.fail_next(1)
    for target in targets.values():
        await send_with_retries(client, target, ALERT, sleep=clock.sleep)
    wrong = targets["dingtalk"].model_copy(update={"secret": SecretStr("SECwrong-secret-value")})
    secrets.append("SECwrong-secret-value")
    with pytest.raises(WebhookRejected):
        await send_with_retries(client, wrong, ALERT, sleep=clock.sleep)
    closed = targets["wecom"].model_copy(update={"url": "http://127.0.0.1:9/cgi-bin/webhook/send?key=" + secrets[1]})
    with pytest.raises(WebhookUnavailable) as caught:
        await send_with_retries(client, closed, ALERT, attempts=2, sleep=clock.sleep)

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "retrying" in logged and "rejected" in logged  # the failures were logged...
    traceback_text = "".join(traceback.format_exception(caught.value))  # what log.exception() would print
    shown = [logged, traceback_text, *(repr(t) for t in targets.values())]
    for secret in secrets:  # ...without a key, token or secret
        assert not any(secret in text for text in shown), secret


def test_mask_url_hides_every_platform_credential():
    assert mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123") == \
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
    assert mask_url("https://oapi.dingtalk.com/robot/send?access_token=t0k&timestamp=1&sign=a%2Bb") == \
        "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***"
    assert mask_url("https://open.feishu.cn/open-apis/bot/v2/hook/f00-ba4") == \
        "https://open.feishu.cn/open-apis/bot/v2/hook/***"


# -- settings -------------------------------------------------------------------------

def test_settings_accept_the_urls_staff_paste():
    WebhookSettings(name="网格群", kind="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1")
    WebhookSettings(name="值班群", kind="dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=t1",
                    secret="SEC1", mention_all=True)
    WebhookSettings(name="书记", kind="feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/h1", secret="s")


@pytest.mark.parametrize("fields, problem", [
    ({"kind": "wecom", "url": "ftp://qyapi.weixin.qq.com/send?key=k"}, "http"),
    ({"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "key="),
    ({"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?key=k"}, "access_token="),
    ({"kind": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/"}, "/hook/"),
    ({"kind": "wecom", "url": "https://q.example/send?key=k", "secret": "SEC1"}, "not signed"),
    ({"kind": "slack", "url": "https://hooks.slack.com/x"}, "wecom"),
    ({"kind": "wecom", "url": "https://q.example/send?key=k", "token": "x"}, "extra"),
])
def test_settings_name_the_problem(fields, problem):
    with pytest.raises(ValidationError) as caught:
        WebhookSettings(name="网格群", **fields)
    assert problem in str(caught.value)
