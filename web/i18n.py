"""Chinese (zh-CN) and English pages from gettext catalogues.

English is the source language; `web/locale/zh_CN/LC_MESSAGES/messages.po` holds the Chinese. The
catalogue is compiled in memory at start (no .mo file to keep in step). The language comes from a
`lang` cookie (the switch in the header) or the browser's `Accept-Language`; Chinese otherwise, as
most of the registry's users read it first.

Update the catalogue after changing any text: `make messages` extracts every string marked in
templates (`_()`, `{% trans %}`) and in Python (`N_()`, `_()`) and merges it into the .po file;
`tests/web/test_i18n.py` fails while any string is left untranslated.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

import pycountry
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
CATALOGUE = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
LANGUAGES = {"zh-CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "lang"


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


@lru_cache
def translations(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    with CATALOGUE.open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


@lru_cache
def _subdivision_names() -> NullTranslations:
    return gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["zh_CN"])


# Chinese subdivisions' romanised names end in the kind of subdivision; English readers know them without.
_SUFFIXES = (" Sheng", " Shi", " Zizhiqu", " Tebiexingzhengqu")


def region_name(code: str | None, language: str) -> str:
    """`CN-JS` as 江苏省 or Jiangsu; the code itself when it names no subdivision."""
    if not code:
        return ""
    subdivision = pycountry.subdivisions.get(code=code)
    if subdivision is None:
        return code
    if language == "zh-CN":
        return _subdivision_names().gettext(subdivision.name)
    name: str = subdivision.name
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return name


# Every status, kind, role and trail action a page shows, in words.
STATUS_LABELS = {
    "active": N_("active"),
    "suspended": N_("suspended"),
    "revoked": N_("revoked"),
    "draft": N_("draft"),
    "submitted": N_("submitted"),
    "under_validation": N_("under validation"),
    "under_verification": N_("under verification"),
    "changes_requested": N_("changes requested"),
    "registered": N_("registered"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
    "completed": N_("completed"),
    "verified": N_("verified"),
    "issued": N_("issued"),
    "frozen": N_("frozen"),
    "retired": N_("retired"),
    "cancelled": N_("cancelled"),
    "organisation": N_("organisation"),
    "individual": N_("individual"),
    "registrar": N_("registrar"),
    "project_owner": N_("project owner"),
    "verifier": N_("verifier"),
    "buyer": N_("buyer"),
    "auditor": N_("auditor"),
    "holding": N_("holding"),
    "buffer": N_("buffer pool"),
    "retirement": N_("retirement"),
    "cancellation": N_("cancellation"),
    "design": N_("project design document"),
    "permit": N_("permit"),
    "validation_report": N_("validation report"),
    "other": N_("other"),
    "in": N_("in"),
    "out": N_("out"),
    "in place": N_("in place"),
    "opened": N_("opened"),
    "meter": N_("meter"),
    "charger": N_("charger"),
    "parcel": N_("parcel"),
    # The actions of the public trail (verification.trail.record_event)
    "created": N_("created"),
    "status changed": N_("status changed"),
    "assets added": N_("assets added"),
    "document filed": N_("document filed"),
    "accredited": N_("accredited"),
    "declared affiliation": N_("declared affiliation"),
    "imported": N_("imported"),
    "commented": N_("commented"),
    "replaced data": N_("replaced data"),
    "verification started": N_("verification started"),
    "changes requested": N_("changes requested"),
    "credits issued": N_("credits issued"),
    # Ledger entry types, as an account's history names them
    "open_account": N_("account opened"),
    "issue": N_("issuance"),
    "transfer": N_("transfer"),
    "buffer_contribution": N_("buffer pool contribution"),
    "retire": N_("retirement"),
    "cancel": N_("cancellation"),
    "freeze": N_("freeze"),
    "unfreeze": N_("unfreeze"),
    # Beneficiary types of a retirement (registry.credits.BENEFICIARY_TYPES)
    "product": N_("product"),
    "event": N_("event"),
    # Severities of the QA findings (methodologies.quantification.Severity)
    "info": N_("info"),
    "flag": N_("flag"),
    "reject": N_("reject"),
    # Statuses of an account application (registry.models.ApplicationStatus)
    "approved": N_("approved"),
    # Net zero: inventory and certificate statuses, ledger entries, emission source categories
    "superseded": N_("superseded"),
    "valid": N_("valid"),
    "expired": N_("expired"),
    "insufficient": N_("insufficient"),
    "net_zero_certificate": N_("net-zero certificate"),
    "certificate_revocation": N_("certificate revocation"),
    "filed": N_("filed"),
    "taken for verification": N_("taken for verification"),
    "stationary_combustion": N_("stationary combustion"),
    "mobile_combustion": N_("mobile combustion"),
    "process": N_("process"),
    "fugitive": N_("fugitive"),
    "purchased_electricity": N_("purchased electricity"),
    "purchased_heat": N_("purchased heat and steam"),
    "green_certificate": N_("green electricity certificate"),
    "green_power_contract": N_("green power contract"),
    "purchased_goods": N_("purchased goods"),
    "upstream_transport": N_("upstream transport"),
    "downstream_transport": N_("downstream transport"),
    "waste": N_("waste"),
    "business_travel": N_("business travel"),
    "employee_commuting": N_("employee commuting"),
    "reduction": N_("reduction"),
    "removal": N_("removal"),
    # Trading: offers, withdrawals, pledges, trade modes, cash movements and balances
    "open": N_("open"),
    "accepted": N_("accepted"),
    "requested": N_("requested"),
    "paid": N_("paid"),
    "released": N_("released"),
    "enforced": N_("enforced"),
    "bilateral": N_("bilateral"),
    "book": N_("order book"),
    "auction": N_("auction"),
    "deposit": N_("deposit"),
    "withdrawal_requested": N_("withdrawal requested"),
    "withdrawal_paid": N_("withdrawal paid"),
    "withdrawal_cancelled": N_("withdrawal cancelled"),
    "settlement": N_("settlement"),
    "available": N_("free"),
    "held": N_("held"),
    "bank": N_("settlement bank"),
    "lock": N_("lock"),
    "unlock": N_("unlock"),
    "deliver": N_("delivery"),
    "locked": N_("locked"),
    # The order book and auctions: sides, kinds, times in force, states, rules, cash holds
    "buy": N_("buy"),
    "sell": N_("sell"),
    "limit": N_("limit"),
    "market": N_("market"),
    "day": N_("good for the day"),
    "gtc": N_("good until cancelled"),
    "ioc": N_("immediate or cancel"),
    "fok": N_("fill or kill"),
    "filled": N_("filled"),
    "halted": N_("halted"),
    "closed": N_("closed"),
    "any": N_("any"),
    "reductions": N_("reductions"),
    "removals": N_("removals"),
    "hold": N_("held for an order or bid"),
    "hold_released": N_("hold released"),
    "pledge_surplus": N_("pledge surplus to the holder"),
    "sealed": N_("sealed"),
    "won": N_("won"),
    "partly_won": N_("partly won"),
    "lost": N_("lost"),
    "settled": N_("settled"),
    "failed": N_("failed (no bid)"),
    "uniform": N_("uniform price"),
    "pay_as_bid": N_("pay as bid"),
}


# The installed methodologies' titles, for the catalogue: plugins name themselves in English
# (`tests/web/test_web_i18n.py` fails when an installed methodology's title is missing here).
METHODOLOGY_TITLES = (
    N_("Distributed photovoltaic generation"),
    N_("Electric vehicle charging"),
    N_("Lighting retrofit"),
    N_("Coastal wetland carbon sink (stock difference)"),
)


def status_label(value: str | None, language: str) -> str:
    if value is None:
        return ""
    label = STATUS_LABELS.get(value)
    return translations(language).gettext(label) if label else value
