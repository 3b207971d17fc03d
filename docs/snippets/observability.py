import asyncio
import logging

from powerpost_async import PowerPost


async def main() -> None:
    # What POWERPOST_LOG=info does, from code: the SDK's own logger.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("powerpost_async").setLevel(logging.INFO)

    async with PowerPost() as pp:
        credits = await pp.account.with_response.credits()
        print(
            f"{credits.parsed.balance} credits (request {credits.request_id})"
        )


if __name__ == "__main__":
    asyncio.run(main())
