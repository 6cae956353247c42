"""Parse uploaded XML without trusting it: no DTDs, no entities, no network, bounded size.

A BPMN or DMN file from an upload or the REST API may carry an XXE payload (external entities reading local
files or URLs) or an entity-expansion bomb. Camunda Modeler never writes a DOCTYPE, so any document that
declares one is refused before lxml resolves anything.
"""

from __future__ import annotations

import re

from lxml import etree

from workflows.errors import DeploymentError, Problem

MAX_XML_BYTES = 5_000_000
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=False, collect_ids=False)


def parse_xml(content: bytes, filename: str) -> etree._ElementTree:
    """Parse a document or raise DeploymentError naming the file and line."""
    if len(content) > MAX_XML_BYTES:
        raise DeploymentError([Problem(filename, f"The file is larger than {MAX_XML_BYTES} bytes.")])
    match = _DOCTYPE.search(content)
    if match:
        line = content[: match.start()].count(b"\n") + 1
        raise DeploymentError([Problem(filename, "DOCTYPE and entity declarations are not allowed "
                                                 "(they can read local files or expand without bound).",
                                       line=line)])
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as error:
        raise DeploymentError([Problem(filename, f"The file is not well-formed XML: {error.msg}",
                                       line=error.lineno)]) from error
    return root.getroottree()
