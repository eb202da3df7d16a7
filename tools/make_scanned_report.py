"""Write ``examples/data/report.pdf``: a two-page *scanned* report (page images, no text
layer), so the document example shows VLM Run reading a scan.

    python tools/make_scanned_report.py

Needs ffmpeg with the drawtext filter and the DejaVu fonts (Debian: ffmpeg,
fonts-dejavu-core). Each page is drawn at 100 dpi, turned by half a degree, blurred a
little and given sensor noise, then stored as a JPEG page (grey, in RGB) of a PDF 1.4 built
here. The text is what ``tests/compose_media_cassettes.py`` answers for this file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "examples" / "data" / "report.pdf"
FONTS = Path("/usr/share/fonts/truetype/dejavu")
WIDTH, HEIGHT = 850, 1100  # US letter at 100 dpi


def text(x: int, y: int, words: str, size: int = 22, bold: bool = False) -> str:
    font = FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    escaped = words.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    return (
        f"drawtext=fontfile={font}:expansion=none:text='{escaped}':x={x}:y={y}"
        f":fontsize={size}:fontcolor=black"
    )


def box(x: int, y: int, w: int, h: int) -> str:
    return f"drawbox=x={x}:y={y}:w={w}:h={h}:color=black:t=2"


PAGES = [
    [
        text(90, 100, "Acme Corp Quarterly Report Q2 2024", 32, bold=True),
        text(90, 180, "Revenue grew 12% quarter over quarter."),
        text(90, 250, "Revenue by region", 20, bold=True),
        box(90, 290, 470, 138),
        box(90, 290, 470, 46),
        box(90, 336, 470, 46),
        box(90, 290, 180, 138),
        text(108, 302, "Region", 20, bold=True),
        text(288, 302, "Revenue (USD m)", 20, bold=True),
        text(108, 348, "EMEA", 20),
        text(288, 348, "41.2", 20),
        text(108, 394, "Americas", 20),
        text(288, 394, "37.9", 20),
        text(400, 1020, "1", 18),
    ],
    [
        text(90, 100, "Outlook", 32, bold=True),
        text(90, 180, "The Lisbon warehouse opens in September 2024."),
        text(90, 230, "Average delivery time fell from 5.1 to 3.2 days."),
        text(400, 1020, "2", 18),
    ],
]

SCAN = "rotate=0.5*PI/180:fillcolor=white,gblur=sigma=0.7,noise=alls=7:allf=u,eq=brightness=-0.03"


def render(draw: list[str]) -> bytes:
    """One page as a JPEG (grey pixels; ffmpeg writes three components)."""
    graph = ",".join([*draw, SCAN, "format=gray"])
    done = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"color=white:s={WIDTH}x{HEIGHT}:d=1",
            "-vf",
            graph,
            "-frames:v",
            "1",
            "-q:v",
            "7",
            "-f",
            "mjpeg",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return done.stdout


def pdf(jpegs: list[bytes]) -> bytes:
    """A PDF 1.4 with one full-page JPEG per page (no text layer)."""
    n = len(jpegs)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{3 + 3 * i} 0 R".encode() for i in range(n))
        + f"] /Count {n} >>".encode(),
    ]
    for i, jpeg in enumerate(jpegs):
        page, content, image = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
        draw = b"q 612 0 0 792 0 0 cm /Scan Do Q"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R "
            f"/Resources << /XObject << /Scan {image} 0 R >> >> >>".encode()
        )
        objects.append(f"<< /Length {len(draw)} >>\nstream\n".encode() + draw + b"\nendstream")
        objects.append(
            f"<< /Type /XObject /Subtype /Image /Width {WIDTH} /Height {HEIGHT} "
            f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode "
            f"/Length {len(jpeg)} >>\nstream\n".encode()
            + jpeg
            + b"\nendstream"
        )
        assert page == len(objects) - 2
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def main() -> None:
    OUT.write_bytes(pdf([render(page) for page in PAGES]))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
