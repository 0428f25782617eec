"""Print one closing line over every pytest run's JUnit XML: "total: N passed, N failed, N skipped"."""

import sys
import xml.etree.ElementTree as ET  # noqa: S405 (our own pytest output, not untrusted input)

suites = []
for path in sys.argv[1:]:
    root = ET.parse(path).getroot()  # noqa: S314
    suites.extend([root] if root.tag == "testsuite" else list(root))


def count(key: str) -> int:
    return sum(int(suite.get(key, 0)) for suite in suites)


failed = count("failures") + count("errors")
skipped = count("skipped")
print(f"total: {count('tests') - failed - skipped} passed, {failed} failed, {skipped} skipped")
