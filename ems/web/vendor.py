"""Copy the front-end packages the pages use from ``node_modules`` into
``ems/web/static/vendor`` so that the server serves them itself: no CDN at run time.

Run by ``scripts/ensure-frontend`` after ``npm ci``: ``python -m ems.web.vendor``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"

# package → files (relative to the package) to serve, each copied to vendor/<package>/<name>.
FILES: dict[str, tuple[str, ...]] = {
    "leaflet": (
        "dist/leaflet.js",
        "dist/leaflet.css",
        "dist/images/layers.png",
        "dist/images/layers-2x.png",
        "dist/images/marker-icon.png",
        "dist/images/marker-icon-2x.png",
        "dist/images/marker-shadow.png",
        "LICENSE",
    ),
}


def copy_vendor(node_modules: Path = NODE_MODULES, target: Path = VENDOR) -> list[Path]:
    """Copy every listed file; raise FileNotFoundError naming the first missing one."""
    written: list[Path] = []
    for package, files in FILES.items():
        for rel in files:
            src = node_modules / package / rel
            if not src.is_file():
                raise FileNotFoundError(f"{src} is missing: run `npm ci` first")
            # Keep leaflet's images/ next to its CSS, which refers to them relatively.
            dest = target / package / rel.removeprefix("dist/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            written.append(dest)
    return written


def main() -> int:
    try:
        written = copy_vendor()
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"copied {len(written)} front-end files into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
