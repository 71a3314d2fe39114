"""Print fake resident ID numbers with valid checksums, for writing examples."""
from __future__ import annotations

import random
import sys

from common.codes import id_check_char

AREAS = ["440106", "440304", "440604", "420106", "310104", "330106", "110105", "510107"]


def fake_id(rng: random.Random) -> str:
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = rng.choice(AREAS) + birth + f"{rng.randint(0, 999):03d}"
    return first17 + id_check_char(first17)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rng = random.Random()
    for _ in range(count):
        print(fake_id(rng))
