import asyncio
import ssl

import aiohttp

from powerpost_async import AiohttpTransport, PowerPost


async def main() -> None:
    # The default transport, sized: at most 20 connections, and answers
    # over 1 MiB refused.
    transport = AiohttpTransport(
        connection_limit=20, max_response_bytes=1024 * 1024
    )
    async with PowerPost(transport=transport) as pp:
        balance = (await pp.account.credits()).balance
        print(f"own pool of {transport.connection_limit}: {balance} credits")

    # A borrowed session: your app's pool, TLS settings and all. For a
    # private CA: ssl.create_default_context(cafile="/path/to/ca.pem").
    tls = ssl.create_default_context()
    connector = aiohttp.TCPConnector(limit=50, ssl=tls)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with PowerPost(transport=AiohttpTransport(session)) as pp:
            balance = (await pp.account.credits()).balance
            print(f"borrowed pool: {balance} credits")
        # The client is closed, the borrowed session is not: its owner
        # closes it.
        print(f"session still open: {not session.closed}")


if __name__ == "__main__":
    asyncio.run(main())
