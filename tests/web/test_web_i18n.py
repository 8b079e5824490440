"""Every string of the pages is in the Chinese catalogue and translated, with the same placeholders;
the catalogue holds nothing stale. `make messages` updates it after a change of text."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from methodologies.registry import list_methodologies
from web.i18n import CATALOGUE, METHODOLOGY_TITLES, STATUS_LABELS

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set[str]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {message if isinstance(message, str) else message[0]
            for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map,
                                                        keywords={"_": None, "gettext": None, "N_": None})}


def _catalogue() -> dict[str, str]:
    with CATALOGUE.open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    return {m.id: m.string for m in catalog if m.id and "fuzzy" not in m.flags}  # type: ignore[misc]


def test_every_string_of_the_pages_is_translated() -> None:
    extracted, catalogue = _extracted(), _catalogue()
    assert len(extracted) > 200  # the extraction found the templates
    missing = sorted(m for m in extracted if not catalogue.get(m))
    assert not missing, f"{len(missing)} strings without a translation (run `make messages`, then translate):\n" + \
        "\n".join(missing[:40])


def test_translations_keep_their_placeholders() -> None:
    wrong = {msgid: text for msgid, text in _catalogue().items()
             if text and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text))}
    assert not wrong


def test_translations_hold_no_stray_percent_sign() -> None:
    """Pages format every translation with `%`: a lone one ("±%") fails the page with a 500."""
    stray = {msgid: text for msgid, text in _catalogue().items() if text and re.search(r"%(?![(%])", text)}
    assert not stray


def test_the_catalogue_holds_no_stale_strings() -> None:
    stale = set(_catalogue()) - _extracted()
    assert not stale, sorted(stale)


def test_methodology_titles_and_labels_are_translated() -> None:
    catalogue = _catalogue()
    untitled = [m.id for m in list_methodologies() if m.title not in METHODOLOGY_TITLES or not catalogue.get(m.title)]
    assert not untitled, f"add their titles to web.i18n.METHODOLOGY_TITLES and translate them: {untitled}"
    assert all(catalogue.get(label) for label in STATUS_LABELS.values())
