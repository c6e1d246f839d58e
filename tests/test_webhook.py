"""Webhook mode: the secret header is checked, redeliveries are dropped, /healthz answers,
and an accepted update reaches the real bot (which answers through the fake Bot API)."""

from __future__ import annotations

import httpx

from web.webhook import SECRET_HEADER, WEBHOOK_PATH, create_webhook_app, derive_secret


async def test_webhook_checks_the_secret_and_drops_redeliveries(harness, world) -> None:  # type: ignore[no-untyped-def]
    secret = derive_secret(harness.tg.token)
    app = create_webhook_app(harness.app, url="https://bot.example.org", secret=secret,
                             manage_lifecycle=False)
    teacher = world.users["teacher"]
    harness.tg.private_chat(harness.tg.add_user(teacher.display_name, user_id=teacher.telegram_id))
    update = harness.tg.send_text(harness.tg.users[teacher.telegram_id], "/menu", enqueue=False)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        bad = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: "wrong"})
        missing = await client.post(WEBHOOK_PATH, json=update)
        assert (bad.status_code, missing.status_code) == (401, 401)
        assert harness.tg.bot_messages(teacher.telegram_id) == []

        first = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: secret})
        again = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: secret})
        assert (first.status_code, again.status_code) == (200, 200)
        garbage = await client.post(WEBHOOK_PATH, content=b"{", headers={SECRET_HEADER: secret})
        assert garbage.status_code == 400

    replies = harness.tg.bot_messages(teacher.telegram_id)
    assert len(replies) == 1  # the redelivered update was not handled twice
    assert "报告疑似辍学" in str(replies[0].buttons())


async def test_webhook_mode_registers_itself_with_telegram(harness) -> None:  # type: ignore[no-untyped-def]
    application = harness.build()
    app = create_webhook_app(application, url="https://bot.example.org/", secret="s3cret-Token_1")
    async with app.router.lifespan_context(app):
        assert application.running
        assert harness.tg.webhook.url == "https://bot.example.org" + WEBHOOK_PATH
        assert harness.tg.webhook.secret_token == "s3cret-Token_1"
    assert not application.running
