import asyncio
import os

from powerpost_async import PowerPost


async def main() -> None:
    # From the environment: POWERPOST_API_KEY, POWERPOST_WORKSPACE_ID and,
    # if set, POWERPOST_BASE_URL (default https://powerpost.ai).
    async with PowerPost() as pp:
        credits = await pp.account.credits()
        print(f"workspace {pp.workspace_id}: {credits.balance} credits")

    # Explicitly: arguments win over the environment. Load the key from your
    # secret store; the environment stands in for it here.
    client = PowerPost(
        api_key=os.environ["POWERPOST_API_KEY"],
        workspace_id=os.environ["POWERPOST_WORKSPACE_ID"],
        timeout=10.0,  # seconds per HTTP exchange (default 30)
        max_retries=4,  # retries after a retryable failure (default 2)
        max_retry_after=30.0,  # longer 429 hints fail at once (default 60)
    )
    async with client as pp:
        print(f"timeout {pp.timeout} s, {pp.max_retries} retries")


if __name__ == "__main__":
    asyncio.run(main())
