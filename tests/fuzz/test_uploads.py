"""Upload fuzzing: product images and CSV/XLSX imports refuse wrong content types, oversized files and
image/zip bombs with a clear message, store nothing, and never answer 5xx.

Image bombs: a few hundred bytes of PNG or GIF whose header declares 50000 x 50000 pixels, and a real
PNG that compresses 100 megapixels of one colour into ~100 kB (what Pillow would decode into memory).
"""

import io
import struct
import zipfile
import zlib

import pytest

PASSWORD = "correct-horse-battery"


def real_png(size=(2, 2)) -> bytes:
    """A valid PNG made by Pillow."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (0, 128, 255)).save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG (good checksums) whose header says width x height; its data is one row."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def gif_declaring(width: int, height: int) -> bytes:
    """A tiny GIF whose screen and one frame declare width x height."""
    return (b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
            + b"," + struct.pack("<HHHH", 0, 0, width, height) + b"\x00" + b"\x02\x02D\x01\x00;")


def decompression_bomb_png() -> bytes:
    """A genuine 10000 x 10000 PNG of one colour: ~100 kB on disk, 100 megapixels once decoded."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def zip_bomb_xlsx() -> bytes:
    """A "workbook" whose single sheet unpacks to 200 MB of zeros (about 200 kB zipped)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b"\x00" * (1 << 20)
            for _ in range(200):
                sheet.write(block)
    return out.getvalue()


@pytest.fixture
def uploads(app, tmp_path, monkeypatch):
    """Uploaded files land in a fresh temporary folder."""
    folder = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(folder))
    return folder


@pytest.fixture
def product(app, login_as, make_product, uploads):
    """An admin logged in and one product to add images to."""
    login_as("admin")
    return make_product()


def post_image(client, product, data: bytes, filename: str, content_type: str = "image/png"):
    """Upload one file as the product's image."""
    client.get(f"/catalog/products/{product.id}")
    return client.post(f"/catalog/products/{product.id}/images",
                       {"image": (io.BytesIO(data), filename, content_type)}, content_type="multipart/form-data")


def stored_images() -> int:
    from dms.catalog.models import ProductImage
    from dms.extensions import db

    return db.session.query(ProductImage).count()


def test_a_real_image_is_accepted(client, product, english):
    """The baseline: a valid PNG is stored (so the refusals below are about the content)."""
    response = post_image(client, product, real_png(), "photo.png")
    assert response.status_code in (200, 302, 303), response.status_code
    assert stored_images() == 1


IMAGE_REFUSALS = {
    "exe renamed .png": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500, "setup.png",
                         "Only JPEG, PNG, GIF or WebP images are accepted."),
    "html renamed .png": (b"<html><script>alert(1)</script></html>", "page.png",
                          "Only JPEG, PNG, GIF or WebP images are accepted."),
    "svg with script": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.png",
                        "Only JPEG, PNG, GIF or WebP images are accepted."),
    "jpeg magic, no image": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200, "photo.jpg",
                             "The file is not a readable image."),
    "png header, truncated": (real_png()[:20], "photo.png", "The file is not a readable image."),
    "png declaring 50000x50000": (png_declaring(50_000, 50_000), "bomb.png", "The image is too large"),
    "gif declaring 50000x50000": (gif_declaring(50_000, 50_000), "bomb.gif", "The image is too large"),
    "empty": (b"", "empty.png", "The file is empty."),
}


@pytest.mark.parametrize("case", IMAGE_REFUSALS, ids=list(IMAGE_REFUSALS))
def test_a_bad_image_is_refused_with_a_message(client, product, english, case):
    """Wrong content behind an image name, unreadable images and header bombs: 4xx, the message, nothing stored."""
    data, filename, message = IMAGE_REFUSALS[case]
    response = post_image(client, product, data, filename)
    assert 400 <= response.status_code < 500, response.status_code
    assert message in response.get_data(as_text=True)
    assert stored_images() == 0


def test_a_decompression_bomb_is_refused_without_decoding_it(client, product, english):
    """A real 100-megapixel PNG of ~100 kB: refused from its header, quickly (its pixels are never decoded)."""
    import time

    bomb = decompression_bomb_png()
    assert len(bomb) < 1_000_000
    started = time.monotonic()
    response = post_image(client, product, bomb, "bomb.png")
    assert time.monotonic() - started < 5
    assert response.status_code == 422 or 400 <= response.status_code < 500
    assert "The image is too large" in response.get_data(as_text=True)
    assert stored_images() == 0


def test_an_image_over_the_size_limit_is_refused(client, product, english):
    """Over MAX_IMAGE_BYTES (5 MB): the size message; nothing stored."""
    data = real_png() + b"\x00" * (5 * 1024 * 1024)
    response = post_image(client, product, data, "huge.png")
    assert 400 <= response.status_code < 500
    assert "An image may be at most 5 MB." in response.get_data(as_text=True)
    assert stored_images() == 0


@pytest.mark.parametrize("url, field", [("/catalog/products/{product}/images", "image"),
                                        ("/catalog/products/import", "file"), ("/customers/import", "file")])
def test_a_request_over_max_content_length_is_a_clean_413(app, client, product, english, url, field):
    """More than MAX_CONTENT_LENGTH (16 MB): 413 with the app's own error page, not a traceback."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    client.get("/catalog/products")
    response = client.post(url.format(product=product.id),
                           {field: (io.BytesIO(b"a" * (limit + 1024)), "big.csv", "text/csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "The upload is too large." in body and "Traceback" not in body


# ---------------------------------------------------------------- imports

def text_xlsx_lookalike() -> bytes:
    return b"name,sku\nwater,W-1\n"


IMPORT_REFUSALS = {
    "png named .csv": (real_png(), "products.csv", "This is not a CSV text file."),
    "text named .xlsx": (text_xlsx_lookalike(), "products.xlsx", "This file is not a valid XLSX workbook."),
    "zip without a workbook": (None, "products.xlsx", "This file is not a valid XLSX workbook."),
    "exe": (b"MZ\x90\x00" + b"\x00" * 100, "products.exe", "Choose a .csv or .xlsx file."),
    "html named .csv": (b"<html><script>alert(1)</script></html>", "products.csv", None),
    "old excel": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "products.xls", "Old Excel files (.xls)"),
}


def _plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return out.getvalue()


@pytest.fixture
def importer(app, client, login_as, english):
    """post(area, data, filename) -> response: an HQ admin uploads a file to the catalog or customer import."""
    login_as("admin")

    def post(area, data, filename, content_type="application/octet-stream", extra=None):
        page = "/catalog/products/import" if area == "catalog" else "/customers/import"
        client.get(page)
        return client.post(page, {"file": (io.BytesIO(data), filename, content_type), **(extra or {})},
                           content_type="multipart/form-data")

    return post


def _imported() -> tuple[int, int]:
    from dms.catalog.models import Product
    from dms.customers.models import Customer
    from dms.extensions import db

    return db.session.query(Product).count(), db.session.query(Customer).count()


@pytest.mark.parametrize("area", ["catalog", "customers"])
@pytest.mark.parametrize("case", IMPORT_REFUSALS, ids=list(IMPORT_REFUSALS))
def test_a_wrong_file_is_refused_by_the_import(importer, make_distributor, area, case):
    """Wrong types behind an import name: 4xx with the message, nothing imported."""
    distributor = make_distributor("440113")
    data, filename, message = IMPORT_REFUSALS[case]
    data = _plain_zip() if data is None else data
    response = importer(area, data, filename, extra={"distributor_id": str(distributor.id)})
    assert 400 <= response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    if message:
        assert message in body
    assert "<script>alert(1)</script>" not in body
    assert _imported() == (0, 0)


@pytest.mark.parametrize("area", ["catalog", "customers"])
def test_an_import_over_its_size_limit_is_refused(importer, make_distributor, area):
    """Over the import's 5 MB: the size message, nothing imported."""
    distributor = make_distributor("440113")
    data = b"name,sku\n" + b"water,W-1\n" * 600_000
    response = importer(area, data, "big.csv", extra={"distributor_id": str(distributor.id)})
    assert 400 <= response.status_code < 500
    assert "The file is larger than 5 MB." in response.get_data(as_text=True)
    assert _imported() == (0, 0)


@pytest.mark.parametrize("area", ["catalog", "customers"])
def test_a_zip_bomb_workbook_is_refused(importer, make_distributor, area):
    """A ~200 kB .xlsx unpacking to 200 MB: refused before openpyxl reads it."""
    distributor = make_distributor("440113")
    bomb = zip_bomb_xlsx()
    assert len(bomb) < 1_000_000
    response = importer(area, bomb, "bomb.xlsx", extra={"distributor_id": str(distributor.id)})
    assert 400 <= response.status_code < 500
    assert "The workbook is too large once unpacked." in response.get_data(as_text=True)
    assert _imported() == (0, 0)


@pytest.mark.parametrize("area", ["catalog", "customers"])
def test_control_characters_deep_in_a_csv_are_refused_not_a_500(importer, make_distributor, area):
    """A NUL byte past the first 4 kB (where the text check looks) in a cell: a row error, not a 500 on PostgreSQL."""
    distributor = make_distributor("440113")
    if area == "catalog":
        rows = "".join(f"商品{i},SKU-{i},10.00\n" for i in range(300))
        data = ("name,sku,price\n" + rows + "坏\x00商品,SKU-X,10.00\n").encode()
    else:
        rows = "".join(f"客户{i},139{i:08d},440113,{i}号\n" for i in range(300))
        data = ("name,phone,region_code,address\n" + rows + "坏\x00客户,13900009999,440113,1号\n").encode()
    assert data.index(b"\x00") > 4096
    response = importer(area, data, "rows.csv", extra={"distributor_id": str(distributor.id)})
    assert response.status_code < 500, response.status_code
    assert 400 <= response.status_code < 500
    assert _imported() == (0, 0)
