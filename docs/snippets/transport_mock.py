import asyncio

from powerpost_async import (
    MockTransport,
    NotFoundError,
    PowerPost,
    Request,
    Response,
)


def handler(request: Request) -> Response:
    """Answer as the API would. May be async, or raise APIConnectionError."""
    if request.url.endswith("/api/v1/account/credits"):
        return Response.from_json(200, {"balance": 47})
    return Response.from_json(
        404,
        {"error": {"code": "NOT_FOUND", "message": "Generation not found"}},
        headers={"X-Request-Id": "req_123"},
    )


async def main() -> None:
    transport = MockTransport(handler)
    # No network: the key and workspace are placeholders.
    async with PowerPost(
        "pp_live_sk_test", "ws_test", transport=transport
    ) as pp:
        print(f"balance: {(await pp.account.credits()).balance}")
        try:
            await pp.generations.get("gen_missing")
        except NotFoundError as error:
            print(f"not found: {error.code}, request id {error.request_id}")
    for request in transport.requests:  # every request the client sent
        print(f"sent {request.method} {request.url}")


if __name__ == "__main__":
    asyncio.run(main())
