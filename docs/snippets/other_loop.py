import asyncio

from powerpost_async import PowerPost, PowerPostError


async def balance(pp: PowerPost) -> int:
    return (await pp.account.credits()).balance


async def balance_with_own_client() -> int:
    async with PowerPost() as pp:  # this loop's own client
        return await balance(pp)


async def main() -> None:
    async with PowerPost() as pp:
        print(f"this loop: {await balance(pp)} credits")
        # A thread running its own event loop must not borrow this client:
        # its connection pool belongs to the loop that first used it.
        try:
            await asyncio.to_thread(asyncio.run, balance(pp))
        except PowerPostError as error:
            print(f"another loop: {error}")
        # The fix: one client per event loop.
        count = await asyncio.to_thread(asyncio.run, balance_with_own_client())
        print(f"another loop, own client: {count} credits")


if __name__ == "__main__":
    asyncio.run(main())
