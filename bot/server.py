"""The bot server: Rasa's own CLI, with the measured patches of bot/patches/.

Run as `python -m bot.server run ...` with the same arguments as `rasa`. The
patches are checked against the installed Rasa and Sanic first; on a mismatch
the server refuses to start and says what differs. `CITYLINK_PATCHES_OFF`
switches patches off (`all`: stock Rasa behaviour).
"""

from __future__ import annotations

import sys

# skops (it loads the logistic regression models) imports in ~1 s on its own
# but ~6 s after TensorFlow has been imported: import it first (py-spy, cold start).
import skops.io  # noqa: F401

from bot import actions_in_process, heap, model_watch, patches, session, templates
from common import logsafe


def main() -> None:
    logsafe.configure("bot")
    # Before the patches: action_events wraps the in-process route like the HTTP one.
    actions_in_process.apply()
    try:
        installed = patches.apply()
    except patches.PatchError as mismatch:
        sys.exit(str(mismatch))
    # Privacy, not speed: always on (city picker's false ERROR; no personal slots carried over).
    templates.apply()
    session.apply()
    # Every worker follows the trainers' active-model record (CITYLINK_MODEL_WATCH_S=0: off).
    model_watch.apply()
    # Speed: the loaded model out of the full garbage collections (250 ms pauses).
    heap.apply()
    print(
        f"Rasa 补丁：{', '.join(installed) or '全部关闭（CITYLINK_PATCHES_OFF）'}", file=sys.stderr
    )
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
