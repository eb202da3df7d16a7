"""files._types: the type gate every file goes through before it is uploaded.

Which file types VLM Run reads, what the first bytes of a file say it is, how a
file's name, its content and a declared media type are reconciled (the content
decides the format within a medium, the name decides between formats sharing a
container, a name of another medium is refused), and which medium a type is. Every
refusal is a FileSourceError whose message says what to do.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_vlmrun.core.errors import FileSourceError
from langchain_vlmrun.files._types import (
    SUPPORTED_EXTENSIONS,
    check_supported,
    gate,
    medium_of,
    sniff,
)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SUPPORTED = (
    ".avi, .bmp, .doc, .docx, .flac, .gif, .jpeg, .jpg, .m4a, .mkv, .mov, .mp3, .mp4, "
    ".ogg, .pdf, .png, .tif, .tiff, .wav, .webm, .webp"
)

# The first bytes of real files of every supported type.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x80\x00\x00\x01\xe0\x08\x06"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
JPEG_EXIF = b"\xff\xd8\xff\xe1\x2f\xfeExif\x00\x00MM\x00*"
GIF87 = b"GIF87a\x40\x01\xf0\x00\xf7\x00\x00"
GIF89 = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff"
BMP = b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x00\x02"
TIFF_LE = b"II*\x00\x08\x00\x00\x00\x0f\x00\x00\x01\x03\x00"
TIFF_BE = b"MM\x00*\x00\x00\x00\x08\x00\x0f\x01\x00\x00\x03"
WEBP = b"RIFF\x1a\x4c\x00\x00WEBPVP8 \x0e\x4c\x00\x00"
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff"
ZIP = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\x00\x00\x00\x00" + (
    b"\x00" * 8 + b"\x13\x00\x00\x00[Content_Types].xml"
)
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"
MP4_MP42 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00"
M4B = b"\x00\x00\x00\x20ftypM4B \x00\x00\x00\x00M4B mp42isom\x00\x00\x00\x00"
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  \x00\x00\x00\x08wide"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic\x00\x00\x01\x0dmeta"
AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf\x00\x00\x00\x00"
AVI = b"RIFF\x60\x2e\x01\x00AVI LIST\xec\x11\x00\x00hdrlavih"
MKV = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska"
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x23TSSE\x00\x00\x00\x0f\x00\x00\x03Lavf"
MP3_FRAME = b"\xff\xfb\x90\x64\x00\x0f\xf0\x00\x00\x69\x00\x00\x00\x08\x00\x00"
MP3_MPEG2 = b"\xff\xf3\x48\xc4\x00\x00\x00\x03\x48\x00\x00\x00\x00"
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00"
FLAC = b"fLaC\x00\x00\x00\x22\x10\x00\x10\x00\x00\x00\x0e\x00"
OGG = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x3a\x4f\x9b\x21"
TEXT = b"just some text, no known format\n"

# (what the file is, its first bytes, the type they show, the file's medium)
CONTENT = [
    ("pdf", PDF, "application/pdf", "document"),
    ("png", PNG, "image/png", "image"),
    ("jfif jpeg", JPEG, "image/jpeg", "image"),
    ("exif jpeg", JPEG_EXIF, "image/jpeg", "image"),
    ("gif87a", GIF87, "image/gif", "image"),
    ("gif89a", GIF89, "image/gif", "image"),
    ("bmp", BMP, "image/bmp", "image"),
    ("little-endian tiff", TIFF_LE, "image/tiff", "image"),
    ("big-endian tiff", TIFF_BE, "image/tiff", "image"),
    ("webp", WEBP, "image/webp", "image"),
    ("word 97 doc", DOC, "application/msword", "document"),
    ("office open xml zip", ZIP, DOCX, "document"),
    ("isom mp4", MP4, "video/mp4", "video"),
    ("mp42 mp4", MP4_MP42, "video/mp4", "video"),
    ("m4a", M4A, "audio/mp4", "audio"),
    ("m4b audiobook", M4B, "audio/mp4", "audio"),
    ("quicktime", MOV, "video/quicktime", "video"),
    ("avi", AVI, "video/x-msvideo", "video"),
    ("matroska", MKV, "video/x-matroska", "video"),
    ("webm (an EBML container)", WEBM, "video/x-matroska", "video"),
    ("mp3 with an id3 tag", MP3_ID3, "audio/mpeg", "audio"),
    ("mp3 frame, mpeg-1 layer iii", MP3_FRAME, "audio/mpeg", "audio"),
    ("mp3 frame, mpeg-2", MP3_MPEG2, "audio/mpeg", "audio"),
    ("wav", WAV, "audio/wav", "audio"),
    ("flac", FLAC, "audio/flac", "audio"),
    ("ogg", OGG, "audio/ogg", "audio"),
]

# (file name, its content, the media type uploaded): every supported extension.
NAMED = [
    ("scan.pdf", PDF, "application/pdf"),
    ("photo.png", PNG, "image/png"),
    ("photo.jpg", JPEG, "image/jpeg"),
    ("photo.jpeg", JPEG_EXIF, "image/jpeg"),
    ("anim.gif", GIF89, "image/gif"),
    ("icon.bmp", BMP, "image/bmp"),
    ("fax.tiff", TIFF_LE, "image/tiff"),
    ("fax.tif", TIFF_BE, "image/tiff"),
    ("photo.webp", WEBP, "image/webp"),
    ("letter.doc", DOC, "application/msword"),
    ("letter.docx", ZIP, DOCX),
    ("clip.mp4", MP4, "video/mp4"),
    ("clip.mov", MOV, "video/quicktime"),
    ("clip.avi", AVI, "video/x-msvideo"),
    ("clip.mkv", MKV, "video/x-matroska"),
    ("clip.webm", WEBM, "video/webm"),
    ("song.mp3", MP3_ID3, "audio/mpeg"),
    ("song.wav", WAV, "audio/wav"),
    ("song.m4a", M4A, "audio/mp4"),
    ("song.flac", FLAC, "audio/flac"),
    ("song.ogg", OGG, "audio/ogg"),
]


def refusal(filename: str | None, head: bytes, declared: str | None = None) -> FileSourceError:
    with pytest.raises(FileSourceError) as caught:
        gate(filename, head, declared)
    return caught.value


def test_the_supported_types_are_the_sdk_list_with_their_media_types() -> None:
    assert {ext: medium_of(mime) for ext, mime in SUPPORTED_EXTENSIONS.items()} == {
        ".jpg": "image",
        ".jpeg": "image",
        ".png": "image",
        ".gif": "image",
        ".bmp": "image",
        ".tiff": "image",
        ".tif": "image",
        ".webp": "image",
        ".pdf": "document",
        ".doc": "document",
        ".docx": "document",
        ".mp4": "video",
        ".mov": "video",
        ".avi": "video",
        ".mkv": "video",
        ".webm": "video",
        ".mp3": "audio",
        ".wav": "audio",
        ".m4a": "audio",
        ".flac": "audio",
        ".ogg": "audio",
    }
    assert {name[name.rindex(".") :] for name, _, _ in NAMED} == set(SUPPORTED_EXTENSIONS)


@pytest.mark.parametrize(
    ("head", "media_type", "medium"), [c[1:] for c in CONTENT], ids=[c[0] for c in CONTENT]
)
def test_the_first_bytes_of_each_supported_format_give_its_type_and_medium(
    head: bytes, media_type: str, medium: str
) -> None:
    assert sniff(head) == media_type
    assert medium_of(media_type) == medium


@pytest.mark.parametrize(("filename", "head", "media_type"), NAMED, ids=[n[0] for n in NAMED])
def test_a_file_named_for_what_it_holds_passes_with_its_name(
    filename: str, head: bytes, media_type: str
) -> None:
    assert gate(filename, head) == (filename, media_type)
    assert check_supported(filename) == media_type


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (PDF, ("upload.pdf", "application/pdf")),
        (PNG, ("upload.png", "image/png")),
        (JPEG, ("upload.jpg", "image/jpeg")),
        (GIF87, ("upload.gif", "image/gif")),
        (BMP, ("upload.bmp", "image/bmp")),
        (TIFF_BE, ("upload.tiff", "image/tiff")),
        (WEBP, ("upload.webp", "image/webp")),
        (DOC, ("upload.doc", "application/msword")),
        (ZIP, ("upload.docx", DOCX)),
        (MP4, ("upload.mp4", "video/mp4")),
        (MOV, ("upload.mov", "video/quicktime")),
        (M4A, ("upload.m4a", "audio/mp4")),
        (AVI, ("upload.avi", "video/x-msvideo")),
        (WEBM, ("upload.mkv", "video/x-matroska")),
        (MP3_FRAME, ("upload.mp3", "audio/mpeg")),
        (WAV, ("upload.wav", "audio/wav")),
        (FLAC, ("upload.flac", "audio/flac")),
        (OGG, ("upload.ogg", "audio/ogg")),
    ],
)
def test_nameless_bytes_are_typed_and_named_by_their_content(
    head: bytes, named: tuple[str, str]
) -> None:
    assert gate(None, head) == named
    assert gate("", head) == named  # an empty name is no name


def test_a_name_without_an_extension_gets_the_content_s_extension() -> None:
    assert gate("scan", PDF) == ("scan.pdf", "application/pdf")
    assert gate("inbox/voice memo", M4A) == ("inbox/voice memo.m4a", "audio/mp4")


def test_within_a_medium_the_content_decides_the_format_and_the_name_is_kept() -> None:
    assert gate("photo.png", JPEG) == ("photo.png", "image/jpeg")
    assert gate("photo.jpg", PNG) == ("photo.jpg", "image/png")
    assert gate("song.mp3", FLAC) == ("song.mp3", "audio/flac")
    assert gate("song.wav", MP3_FRAME) == ("song.wav", "audio/mpeg")
    assert gate("clip.avi", MKV) == ("clip.avi", "video/x-matroska")
    assert gate("scan.pdf", DOC) == ("scan.pdf", "application/msword")


@pytest.mark.parametrize(
    ("filename", "head", "media_type"),
    [
        # MP4, M4A and MOV are one ISO-BMFF container: the brand can be any of them
        ("clip.mov", MP4, "video/quicktime"),
        ("song.m4a", MP4_MP42, "audio/mp4"),
        ("clip.mp4", M4A, "video/mp4"),
        ("clip.mp4", MOV, "video/mp4"),
        ("song.m4a", MOV, "audio/mp4"),
        ("clip.mov", M4A, "video/quicktime"),
        # WebM is Matroska
        ("clip.webm", MKV, "video/webm"),
        ("clip.mkv", WEBM, "video/x-matroska"),
        # a .doc saved as a .docx and the other way round
        ("letter.doc", ZIP, "application/msword"),
        ("letter.docx", DOC, DOCX),
    ],
)
def test_between_formats_sharing_a_container_the_name_decides(
    filename: str, head: bytes, media_type: str
) -> None:
    assert gate(filename, head) == (filename, media_type)


@pytest.mark.parametrize(
    ("filename", "head", "message"),
    [
        (
            "photo.png",
            PDF,
            "photo.png is named as image but its content is application/pdf; "
            "rename it with the right extension.",
        ),
        (
            "scan.pdf",
            PNG,
            "scan.pdf is named as document but its content is image/png; "
            "rename it with the right extension.",
        ),
        (
            "clip.mp4",
            PNG,
            "clip.mp4 is named as video but its content is image/png; "
            "rename it with the right extension.",
        ),
        (
            "clip.webm",
            OGG,
            "clip.webm is named as video but its content is audio/ogg; "
            "rename it with the right extension.",
        ),
        (
            "letter.docx",
            MP4,
            "letter.docx is named as document but its content is video/mp4; "
            "rename it with the right extension.",
        ),
        (
            "photo.png",
            MP4,
            "photo.png is named as image but its content is video/mp4; "
            "rename it with the right extension.",
        ),
        (
            "song.mp3",
            MOV,
            "song.mp3 is named as audio but its content is video/quicktime; "
            "rename it with the right extension.",
        ),
        (
            "song.flac",
            MKV,
            "song.flac is named as audio but its content is video/x-matroska; "
            "rename it with the right extension.",
        ),
    ],
)
def test_a_name_of_another_medium_than_the_content_is_refused(
    filename: str, head: bytes, message: str
) -> None:
    error = refusal(filename, head)
    assert str(error) == message
    assert error.source == filename


@pytest.mark.parametrize("filename", ["report.pdf", "Report.PDF", "dir.v2/notes.Docx"])
def test_a_supported_name_on_unrecognised_content_is_refused_before_upload(
    filename: str,
) -> None:
    suffix = filename[filename.rindex(".") :].lower()
    error = refusal(filename, TEXT, declared="application/pdf")
    assert str(error) == (
        f"{filename} does not look like a {suffix} file: its first bytes match no format "
        "VLM Run reads (is it text, or damaged?). Check the file; nothing was uploaded."
    )
    assert error.source == filename


def test_an_unsupported_extension_is_refused_with_the_list_of_supported_ones() -> None:
    with pytest.raises(FileSourceError) as caught:
        check_supported("notes.TXT")
    assert str(caught.value) == (
        f"Unsupported file type '.txt' for notes.TXT: VLM Run reads {SUPPORTED}."
    )
    assert caught.value.source == "notes.TXT"
    # whatever the content: the name is checked too
    error = refusal("sheet.xlsx", ZIP)
    assert str(error) == f"Unsupported file type '.xlsx' for sheet.xlsx: VLM Run reads {SUPPORTED}."
    assert error.source == "sheet.xlsx"


def test_a_name_without_extension_is_unsupported_for_check_supported() -> None:
    with pytest.raises(FileSourceError) as caught:
        check_supported("README")
    assert str(caught.value) == (
        f"Unsupported file type '(no extension)' for README: VLM Run reads {SUPPORTED}."
    )
    assert caught.value.source == "README"


def test_nameless_bytes_of_no_supported_format_are_refused_with_what_to_pass() -> None:
    error = refusal(None, TEXT)
    assert str(error) == (
        f"Cannot tell what kind of file the data is: its content is not a format VLM Run "
        f"reads ({SUPPORTED}). Pass filename='name.ext' (or a Blob with a path or "
        "mimetype) if it is one."
    )
    assert error.source is None
    error = refusal("scan", TEXT)
    assert str(error) == (
        f"Cannot tell what kind of file scan is: its content is not a format VLM Run "
        f"reads ({SUPPORTED}). Pass filename='name.ext' (or a Blob with a path or "
        "mimetype) if it is one."
    )
    assert error.source == "scan"


def test_a_declared_type_is_held_to_the_content_as_an_extension_is() -> None:
    """A Blob's mimetype names nameless content only when the bytes are that: an
    in-memory ``b"hello"`` declared a PDF is refused before it is uploaded and paid."""
    assert gate(None, PDF, declared="application/pdf") == ("upload.pdf", "application/pdf")
    assert gate("scan", PNG, declared="image/png") == ("scan.png", "image/png")
    for declared in ("application/pdf", "image/jpeg", "audio/mp4"):
        assert str(refusal(None, TEXT, declared=declared)) == (
            f"the data is declared as {declared} but its first bytes match no format VLM "
            "Run reads (is it text, or damaged?). Check the bytes and the Blob's "
            "mime_type; nothing was uploaded."
        )
    assert str(refusal("scan", TEXT, declared="image/jpeg")).startswith(
        "scan is declared as image/jpeg but"
    )


def test_a_declared_type_decides_between_formats_sharing_a_container() -> None:
    """As an extension does: an mp4 container declared as audio is sent as audio (the
    recording's own brand says video), and an m4a or a QuickTime file declared as mp4
    video is sent as declared."""
    assert gate(None, MP4, declared="audio/mp4") == ("upload.m4a", "audio/mp4")
    assert gate(None, M4A, declared="video/mp4") == ("upload.mp4", "video/mp4")
    assert gate("clip", MOV, declared="video/mp4") == ("clip.mp4", "video/mp4")
    assert gate(None, WEBM, declared="video/x-matroska") == ("upload.mkv", "video/x-matroska")
    # the content still decides between formats of one kind in different containers
    assert gate(None, MKV, declared="video/mp4") == ("upload.mkv", "video/x-matroska")


def test_a_declared_type_vlm_run_does_not_read_is_not_taken() -> None:
    for declared in ("text/plain", "image/heic", "IMAGE/PNG", ""):
        error = refusal(None, TEXT, declared=declared)
        assert str(error).startswith("Cannot tell what kind of file the data is")


def test_content_of_another_medium_than_declared_is_refused() -> None:
    assert str(refusal(None, PNG, declared="application/pdf")) == (
        "the data is declared as application/pdf but its content is image/png; pass "
        "mime_type='image/png' (or the right bytes)."
    )
    assert str(refusal("scan", PDF, declared="image/png")).startswith(
        "scan is declared as image/png but its content is application/pdf"
    )
    # the same medium: the content's own format is sent
    assert gate(None, PNG, declared="image/jpeg") == ("upload.png", "image/png")
    # and a name with an extension never looks at the declared type
    assert gate("scan.pdf", PDF, declared="image/png") == ("scan.pdf", "application/pdf")


def test_heif_and_avif_photos_are_not_taken_for_mp4_video() -> None:
    # VLM Run does not read HEIC/AVIF: their ISO-BMFF header is not a video
    for head in (HEIC, AVIF):
        assert sniff(head) is None
        assert str(refusal(None, head)).startswith("Cannot tell what kind of file the data is")
        assert str(refusal("IMG_0001.jpg", head)).startswith(
            "IMG_0001.jpg does not look like a .jpg file"
        )
    assert str(refusal("IMG_0001.HEIC", HEIC)).startswith("Unsupported file type '.heic'")


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\xff",  # too short for an MPEG frame header
        b"\xff\x1f\x00\x00",  # no frame sync: the second byte's top bits are not set
        b"\xff\xc0\x00\x00",
        b"A\xe0\xff\xff",  # frame-sync bits without the leading 0xff
        b"\x7f\xff\xfb\x90",
        b"RIFF\x24\x08\x00\x00AIFFCOMM",  # a RIFF form VLM Run does not read
        b"RIFF\x24\x08",
        b"PK\x05\x06" + b"\x00" * 18,  # an empty zip
        b"GIF88a",
        b"%PDF",
        TEXT,
    ],
)
def test_bytes_of_no_supported_format_are_not_recognised(head: bytes) -> None:
    assert sniff(head) is None


def test_a_bare_two_byte_mpeg_frame_header_is_mp3() -> None:
    assert sniff(b"\xff\xfb") == "audio/mpeg"
    assert sniff(b"\xff\xe0") == "audio/mpeg"


@pytest.mark.parametrize(
    ("media_type", "medium"),
    [
        (None, None),
        ("application/pdf", "document"),
        ("application/msword", "document"),
        (DOCX, "document"),
        ("image/svg+xml", "image"),
        ("audio/aac", "audio"),
        ("video/3gpp", "video"),
        ('audio/ogg; codecs="opus"; profile="https://example.com/ns/voice"', "audio"),
        ("text/plain", None),
        ("application/zip", None),
        ("application/octet-stream", None),
        ("imagery/png", None),
        ("", None),
    ],
)
def test_the_medium_is_the_top_level_type_or_document(
    media_type: str | None, medium: str | None
) -> None:
    assert medium_of(media_type) == medium


@settings(max_examples=200, deadline=None)
@given(head=st.binary(max_size=64), declared=st.none() | st.sampled_from(["image/png", "x/y"]))
def test_any_bytes_get_a_supported_type_or_a_typed_refusal(
    head: bytes, declared: str | None
) -> None:
    found = sniff(head)
    assert found is None or found in SUPPORTED_EXTENSIONS.values()
    try:
        name, media_type = gate(None, head, declared)
    except FileSourceError as error:
        # unrecognised bytes, or recognised as another medium than the one declared
        assert found is None or (declared == "image/png" and medium_of(found) != "image")
        assert error.source is None
    else:
        assert media_type == found
        assert name == "upload" + next(
            ext for ext, mime in SUPPORTED_EXTENSIONS.items() if mime == media_type
        )
        assert medium_of(media_type) is not None


@settings(max_examples=200, deadline=None)
@given(
    named=st.sampled_from(NAMED),
    cases=st.lists(st.booleans(), min_size=5, max_size=5),
    stem=st.text(st.characters(exclude_characters="./\\\x00"), min_size=1, max_size=20),
)
def test_an_extension_passes_in_any_case(
    named: tuple[str, bytes, str], cases: list[bool], stem: str
) -> None:
    filename, head, media_type = named
    ext = filename[filename.rindex(".") :]
    cased = "".join(c.upper() if up else c for c, up in zip(ext, cases, strict=False))
    assert check_supported(stem + cased) == media_type
    assert gate(stem + cased, head) == (stem + cased, media_type)
