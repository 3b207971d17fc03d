"""The ``powerpost`` command: the PowerPost API from a shell, built on the public SDK.

Installed as the ``powerpost`` console script (and ``python -m powerpost_async``)::

    powerpost generations create --prompt "We shipped dark mode" --post-type x-post --wait
    powerpost generations wait ID1 ID2 ID3
    powerpost demo            # 200 generations against the embedded fake API
    powerpost media upload cat.jpg
    powerpost posts create --item x-post='Dark mode is here' --media MEDIA_ID
    powerpost demo --pipeline # upload, caption, image, post, publish, analytics: 20 posts

It needs only the standard library on top of the SDK; with the ``cli`` extra (rich) it
shows tables and live progress bars on a terminal. ``powerpost --help`` lists the
commands, the environment variables and the exit codes.
"""

from powerpost_async.cli._app import main

__all__ = ["main"]
