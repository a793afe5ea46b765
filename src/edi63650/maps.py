"""Finding and loading the data tables in ``maps/``.

The tables live in the repository's top-level ``maps/`` folder; the wheel carries the same files
as ``edi63650/maps`` (see ``pyproject.toml``). Every file is parsed with entities and network
access off and checked against ``maps.xsd``; a file that fails raises :class:`MapError` naming
the file, the line and the problem.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from edi63650 import cache
from edi63650.errors import MapError

if TYPE_CHECKING:  # lxml is imported where a map is read: a cached start needs none
    from lxml import etree

NAMESPACE = "urn:edi63650:maps"
_SCHEMA_NAME = "maps.xsd"


def default_maps_dir() -> Path:
    """The bundled maps: inside the installed package, else the checkout's ``maps/``."""
    packaged = importlib.resources.files("edi63650") / "maps"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "maps"
    if checkout.is_dir():
        return checkout
    raise MapError(f"no maps folder found at {packaged} or {checkout}")


def _parser() -> etree.XMLParser:
    from lxml import etree  # noqa: PLC0415 - only when a map is read

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )


def load_xml(name: str, maps_dir: Path | None = None) -> etree._Element:
    """Parse ``maps_dir/name`` and validate it against ``maps.xsd``; return the root element."""
    from lxml import etree  # noqa: PLC0415 - as _parser

    folder = maps_dir if maps_dir is not None else default_maps_dir()
    path = folder / name
    try:
        schema = etree.XMLSchema(etree.parse(str(folder / _SCHEMA_NAME), _parser()))
        document = etree.parse(str(path), _parser())
    except OSError as error:
        raise MapError(f"{path}: cannot be read: {error}") from error
    except etree.XMLSyntaxError as error:
        raise MapError(f"{error.filename or path}:{error.lineno}: {error.msg}") from error
    except etree.XMLSchemaParseError as error:
        raise MapError(f"{folder / _SCHEMA_NAME}: schema is broken: {error}") from error
    if not schema.validate(document):
        problem = schema.error_log[-1]
        raise MapError(f"{path}:{problem.line}: {problem.message}")
    return document.getroot()


@attrs.frozen
class Implementation:
    """One implementation guide the reader recognises (a row of ``implementations.xml``)."""

    version: str
    kind: str
    supported: bool
    name: str
    validate_as: str
    note: str = ""
    structure_map: str = ""  # the pyx12 map the structure layer uses ("" for none)
    structure_as: str = ""  # the guide version that map describes


@attrs.frozen
class Implementations:
    """The routing table from GS08/ST03 to a claim kind, loaded once and passed around."""

    by_version: dict[str, Implementation]

    @classmethod
    def load(cls, maps_dir: Path | None = None) -> Implementations:
        """The table of ``maps_dir`` (default: the bundled maps), cached per user."""
        folder = maps_dir if maps_dir is not None else default_maps_dir()
        files = [folder / "implementations.xml", folder / _SCHEMA_NAME, Path(__file__)]
        key = cache.fingerprint(files=files)
        return cache.cached("implementations", key, lambda: cls.read(folder))

    @classmethod
    def read(cls, maps_dir: Path) -> Implementations:
        root = load_xml("implementations.xml", maps_dir)
        entries = {}
        for element in root.iter(f"{{{NAMESPACE}}}implementation"):
            version = element.get("version", "")
            entries[version] = Implementation(
                version=version,
                kind=element.get("kind", "other"),
                supported=element.get("supported") in ("true", "1"),
                name=element.get("name", ""),
                validate_as=element.get("validate-as", version),
                note=element.get("note", ""),
                structure_map=element.get("structure-map", ""),
                structure_as=element.get("structure-as", ""),
            )
        return cls(by_version=entries)

    def lookup(self, version: str) -> Implementation | None:
        return self.by_version.get(version)
