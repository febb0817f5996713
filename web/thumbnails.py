"""The catalog's thumbnails at URLs that say nothing of where they lie on disk, and the folders Gradio may serve."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.routing import Route

from index.catalog.fetch import is_url
from search.starting import StartingEngine


def relative_images(products: list[dict]) -> None:
    for product in products:
        # A URL relative to the app's address (see `product_images_route`), not a path on the server; it names the
        # index version whose row it is, as rows change from one version to the next.
        image = product.get("image")
        if image and not is_url(image):  # a web link (LOOKALIKE_THUMBNAILS=link) is shown as it is
            product["image"] = f"products/{Path(image).parent.parent.name}/{product['row']}.jpg"


def thumbnail_file(starting: StartingEngine, product: dict) -> str | None:
    """The file of a product's thumbnail, from its URL in an endpoint's JSON (`relative_images`), or the
    web link it is."""
    if is_url(product.get("image")):
        return product["image"]
    _, version, name = (product.get("image") or "//").split("/", 2)
    path = starting.thumbnail(version, int(name.removesuffix(".jpg"))) if name.endswith(".jpg") else None
    return str(path) if path else None


def thumbnail_folders(index) -> list[str]:
    """Where the catalog thumbnails are, for Gradio's allowed paths: what the page shows, nothing else
    (besides the example photos). Gradio checks where a link leads, and a Hub index's files are links
    into the Hub cache's blobs/ folder, which holds that index repository's files alone."""
    folders = [str(index.thumbnails)]
    first = next(index.thumbnails.glob("*.jpg"), None) if index.thumbnails.is_dir() else None  # none: all links
    if first and first.resolve().parent != first.parent:
        folders.append(str(first.resolve().parent))
    return folders


def product_images_route(starting: StartingEngine) -> Route:
    """`products/<version>/<row>.jpg`: a product's thumbnail at a URL that says nothing of where it lies
    on disk, for the version served and the one before it (`StartingEngine.thumbnail`)."""

    def serve(request):
        path = starting.thumbnail(request.path_params["version"], request.path_params["row"])
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type="image/jpeg")

    return Route("/products/{version}/{row:int}.jpg", serve)
