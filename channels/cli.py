"""Chat channel commands: register the webhooks, or poll Telegram where there is no public URL.

`register(app)` is called from service.cli.register_cli.
"""

from __future__ import annotations

import json
import logging
import time

import click
from flask import Flask, current_app
from telegram import Bot, Update
from telegram.error import TelegramError

from .base import PermanentError, TransientError
from .telegram import ALLOWED_UPDATES, TelegramChannel, classify
from .zalo_bot import ZaloBotChannel

log = logging.getLogger(__name__)


def telegram_channel() -> TelegramChannel:
    if not TelegramChannel.enabled(current_app.config):
        raise click.ClickException("TELEGRAM_BOT_TOKEN is not set: the Telegram channel is off.")
    return TelegramChannel(current_app.config)


def store_update(update: Update) -> bool:
    """Keep one polled update exactly as a webhook would (same dedup, same queue)."""
    from service.domain.intake import store_raw
    from service.extensions import db

    body = json.dumps(update.to_dict(), ensure_ascii=False)
    return store_raw(db.session, "telegram", str(update.update_id), body) is not None


def poll_telegram(channel: TelegramChannel, once: bool, timeout: int) -> int:
    """deleteWebhook, then getUpdates with an advancing offset; returns updates stored."""
    stored = 0

    async def work(bot: Bot) -> None:
        nonlocal stored
        await bot.delete_webhook()
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await bot.get_updates(offset=offset, timeout=timeout,
                                                allowed_updates=ALLOWED_UPDATES)  # fmt: skip
                failures = 0
            except TelegramError as exc:
                error = classify(exc)
                if once or isinstance(error, PermanentError):
                    raise
                failures += 1
                wait = error.retry_after or min(60, 2**failures)
                log.warning("getUpdates failed (%s); again in %ss", exc, wait)
                time.sleep(wait)
                continue
            for update in updates:
                stored += store_update(update)
                offset = update.update_id + 1  # Telegram forgets updates below the offset
            if once:
                return

    channel.run(work)
    return stored


def register(app: Flask) -> None:
    @app.cli.command("telegram-set-webhook")
    @click.argument("url")
    @click.option("--drop-pending", is_flag=True, help="Discard updates waiting at Telegram.")
    def telegram_set_webhook(url: str, drop_pending: bool) -> None:
        """Point Telegram at URL (…/webhooks/telegram) with TELEGRAM_WEBHOOK_SECRET."""
        channel = telegram_channel()
        secret = current_app.config.get("TELEGRAM_WEBHOOK_SECRET")
        if not secret:
            raise click.ClickException("Set TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -).")

        async def work(bot: Bot) -> bool:
            return await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES,
                                         drop_pending_updates=drop_pending)  # fmt: skip

        try:
            channel.run(work)
        except (PermanentError, TransientError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Telegram webhook set to {url}")

    @app.cli.command("telegram-poll")
    @click.option("--once", is_flag=True, help="One getUpdates call, then exit.")
    @click.option("--timeout", default=30, show_default=True, help="Long-poll seconds.")
    def telegram_poll(once: bool, timeout: int) -> None:
        """Long polling instead of the webhook (removes the webhook first). Run one poller."""
        channel = telegram_channel()
        try:
            stored = poll_telegram(channel, once, 0 if once else timeout)
        except (PermanentError, TransientError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{stored} new update(s) stored")

    @app.cli.command("zalo-bot-set-webhook")
    @click.argument("url")
    def zalo_bot_set_webhook(url: str) -> None:
        """Point the Zalo Bot at URL (…/webhooks/zalo-bot) with ZALO_BOT_WEBHOOK_SECRET."""
        cfg = current_app.config
        if not ZaloBotChannel.enabled(cfg) or not cfg.get("ZALO_BOT_WEBHOOK_SECRET"):
            raise click.ClickException("Set ZALO_BOT_TOKEN and ZALO_BOT_WEBHOOK_SECRET first.")
        try:
            ZaloBotChannel(cfg).call(
                "setWebhook", {"url": url, "secret_token": cfg["ZALO_BOT_WEBHOOK_SECRET"]}
            )
        except (PermanentError, TransientError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Zalo Bot webhook set to {url}")
