"""Profile one qwen_spaces client on the fake server: where does the CPU go?

    python -m benchmarks.profile sync|async|floor_sync|floor_async [--n 10000] [--layout max]
        [--streams 3] [--cprofile]

Starts the fake server in its own process, warms the client up with one stream,
then profiles ``--streams`` streams with pyinstrument (``pip install
pyinstrument``; not a dependency) or, with ``--cprofile``, with cProfile
(exact call counts, more overhead). Prints the profile to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Optional

from benchmarks.contenders import make_floor_async, make_floor_sync, make_qs_async, make_qs_sync
from benchmarks.harness import Server


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("client", choices=("sync", "async", "floor_sync", "floor_async"))
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--layout", choices=("max", "1m"), default="max")
    parser.add_argument("--footer", action="store_true")
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args(argv)

    with Server(args.layout, args.n, footer=args.footer) as server:
        url = server.url
        if args.client in ("sync", "floor_sync"):
            if args.client == "sync":
                run, client = make_qs_sync(url, args.layout)
            else:
                run, client = make_floor_sync(url, args.layout), None
            run()  # warm-up

            def body() -> Any:
                for _ in range(args.streams):
                    run()

            try:
                profile(body, args.cprofile)
            finally:
                if client is not None:
                    client.close()
        else:
            make = make_qs_async if args.client == "async" else make_floor_async
            arun, close = make(url, args.layout)

            async def main_async() -> None:
                await arun()  # warm-up

                async def streams() -> None:
                    for _ in range(args.streams):
                        await arun()

                try:
                    await profile_async(streams, args.cprofile)
                finally:
                    await close()

            asyncio.run(main_async())
    return 0


def profile(body: Any, use_cprofile: bool) -> None:
    if use_cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(body)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    body()
    profiler.stop()
    sys.stdout.write(profiler.output_text(unicode=True, color=False, show_all=False))


async def profile_async(body: Any, use_cprofile: bool) -> None:
    if use_cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        await body()
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002, async_mode="enabled")
    profiler.start()
    await body()
    profiler.stop()
    sys.stdout.write(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    sys.exit(main())
