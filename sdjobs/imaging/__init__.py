"""Image rendering for the thumbs job: pure functions, no database, no UI.

- ``render``: decode a source once and encode thumbnail variants.
- ``probe``: header-only facts (size, format, EXIF time) and magic sniffing.
- ``freedesktop``: the freedesktop.org Thumbnail Managing Standard cache.
"""

from sdjobs.imaging.probe import ImageInfo, image_info, is_probably_image
from sdjobs.imaging.render import ImageRejected, NotAnImage, OutputFormat, Rendered, render_variants

__all__ = [
    "ImageInfo",
    "ImageRejected",
    "NotAnImage",
    "OutputFormat",
    "Rendered",
    "image_info",
    "is_probably_image",
    "render_variants",
]
