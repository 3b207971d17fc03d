import asyncio

import httpx

# HttpxTransport needs: pip install 'powerpost-async[httpx]'
from powerpost_async import HttpxTransport, PowerPost


async def main() -> None:
    async with PowerPost(transport=HttpxTransport(connection_limit=20)) as pp:
        credits = await pp.account.credits()
        print(f"over httpx: {credits.balance} credits")

    # Or borrow your own AsyncClient (the SDK never closes it). httpx does
    # not tell its connection limit, so say it: get_many() sizes on it.
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(limits=limits) as client:
        transport = HttpxTransport(client, connection_limit=20)
        async with PowerPost(transport=transport) as pp:
            credits = await pp.account.credits()
            print(f"over a borrowed httpx client: {credits.balance} credits")


if __name__ == "__main__":
    asyncio.run(main())
