import asyncio
import hmac
import json
import os
from collections.abc import Mapping

from powerpost_async import PowerPost
from powerpost_async.webhooks import (
    InvalidWebhookError,
    WebhookVerificationError,
    parse_webhook,
)


def verify(body: bytes, headers: Mapping[str, str]) -> bool:
    """YOUR check, not PowerPost's: its signing scheme is not published yet.

    Here, a secret that your own gateway adds as a header once it has
    authenticated the sender. Replace it with PowerPost's signature check
    when that is documented.
    """
    expected = os.environ["WEBHOOK_TOKEN"]
    return hmac.compare_digest(headers.get("X-Webhook-Token", ""), expected)


async def handle_webhook(
    pp: PowerPost, body: bytes, headers: Mapping[str, str]
) -> int:
    """Called by your web framework's route with the raw body: the status."""
    try:
        event = parse_webhook(body, headers=headers, verify=verify)
    except WebhookVerificationError:
        return 401
    except InvalidWebhookError:
        return 400
    # A hint, not data: a wait on this client for that generation re-reads
    # it from the API (one GET) and returns now. Anything else costs nothing.
    await pp.generations.feed(event)
    return 204


async def main() -> None:
    async with PowerPost() as pp:
        created = await pp.generations.create(
            prompt="Weekend sale", post_types=["x-post"]
        )
        # What PowerPost POSTs to your endpoint when a generation completes:
        event = {
            "event": "generation.completed",
            "timestamp": "2026-01-10T18:31:00Z",
            "workspace_id": pp.workspace_id,
            "data": {"generation_id": created.generation_id},
        }
        body = json.dumps(event).encode()
        signed = {"X-Webhook-Token": os.environ["WEBHOOK_TOKEN"]}
        print("with the token:", await handle_webhook(pp, body, signed))
        print("without it:", await handle_webhook(pp, body, {}))
        print("not an event:", await handle_webhook(pp, b"<html>", signed))


if __name__ == "__main__":
    asyncio.run(main())
