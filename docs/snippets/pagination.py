import asyncio
import contextlib

from powerpost_async import PowerPost


async def main() -> None:
    async with PowerPost() as pp:
        # One page at a time: you hold the cursor (e.g. for your own caller).
        page = await pp.generations.list(status="completed", limit=10)
        print(f"page 1: {len(page)} generations, has_more={page.has_more}")
        if page.next_cursor is not None:
            page = await pp.generations.list(
                status="completed", limit=10, cursor=page.next_cursor
            )
            print(f"page 2: {len(page)} generations, has_more={page.has_more}")

        # Every generation: iterate() follows next_cursor, a page ahead.
        count = credits = 0
        async for summary in pp.generations.iterate(status="completed"):
            count += 1
            credits += summary.credits_used
        print(f"{count} completed generations used {credits} credits")

        # Stopping early: aclosing() cancels the page fetched ahead as the
        # block ends, not whenever the iterator is garbage-collected.
        newest: list[str] = []
        summaries = pp.generations.iterate(page_size=5)
        async with contextlib.aclosing(summaries):
            async for summary in summaries:
                newest.append(summary.generation_id)
                if len(newest) == 3:
                    break
        print(f"newest 3: {', '.join(newest)}")


if __name__ == "__main__":
    asyncio.run(main())
