import pytest

from tests.e2e.harness import start_bot, start_gateway


@pytest.fixture
async def gateway():
    gw = await start_gateway()
    yield gw
    await gw.close()


@pytest.fixture
async def wechat_bot(tmp_path, gateway, reset_database):
    bot = await start_bot(tmp_path, gateway)
    yield bot
    await bot.stop()
