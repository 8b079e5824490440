"""Synthetic monitoring data for the demo registry: Suzhou Industrial Park PV and EV charging, a Jiangsu salt marsh.

The demo must show the real methodology plugins quantifying a realistic year of data, and
nobody's real meter data can ship with the code, so the data are generated. Each generator
returns the plugin's input table and parameters that the plugin's own parameter model accepts,
and is shaped to pass the plugin's QA the way good data would: PV and EV data raise no finding
at all, the wetland inventory at most the information that its uncertainty was deducted.

Output depends only on the arguments: the same seed gives the same table, and `write_csv`
gives the same bytes, on every run. Random draws come from streams keyed by (seed, year, name),
so adding a meter or a charger leaves every other one's data unchanged, and every PV plant
generated with one seed sees the same weather.
"""

import math
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from methodologies.solar import sun_elevation_deg

REGION = "CN-JS"
TIMEZONE = "Asia/Shanghai"
# Suzhou Industrial Park (Jinji Lake).
SUZHOU_LATITUDE = 31.32
SUZHOU_LONGITUDE = 120.72

# The demo's PV: 20 household rooftops of 550 Wp modules (10–21 modules, 5.5–11.55 kWp) and
# two factory rooftops, each behind a single 10 kV grid-connection meter.
_HOUSEHOLD_MODULES = (12, 16, 10, 18, 14, 20, 11, 15, 13, 17, 21, 12, 16, 19, 10, 14, 18, 13, 15, 20)
HOUSEHOLD_METERS: list[tuple[str, float]] = [
    (f"SIP-HH-{number:02d}", round(modules * 0.55, 2)) for number, modules in enumerate(_HOUSEHOLD_MODULES, 1)
]
FACTORY_ROOF_METERS: list[tuple[str, float]] = [("SIP-FAC-01", 1200.0)]
# A semiconductor plant's roof and car-park canopies, also behind one 10 kV meter.
FAB_ROOF_METERS: list[tuple[str, float]] = [("SIP-FAB-02", 2600.0)]
# A public hub: 7 kW AC posts for residents and office workers, 60 and 120 kW DC for
# ride-hailing and taxi drivers.
EV_HUB_CHARGERS: list[tuple[str, float]] = [
    *((f"SIP-EV-{number:02d}", 7.0) for number in range(1, 5)),
    *((f"SIP-EV-{number:02d}", 60.0) for number in range(5, 9)),
    *((f"SIP-EV-{number:02d}", 120.0) for number in range(9, 13)),
]

_INTERVAL_S = 900
_DAY_S = 86_400
# Chinese distributed PV is commonly built with 1.1–1.3 kWp of modules per kW of inverter.
_DC_AC_RATIO = Decimal("1.2")
# Distributed PV up to 400 kW connects at 380/220 V, where class 1 meters are the norm; a
# larger connection is at 10 kV and metered at class 0.5S.
_LOW_VOLTAGE_LIMIT_KW = Decimal(400)
# Each meter's year is scaled to a specific yield in this range: about 1,100 full-load hours,
# typical of rooftops in southern Jiangsu and far below the plugin's 1,600 kWh/kWp flag.
_SPECIFIC_YIELD_KWH_PER_KWP = (1090.0, 1160.0)
# Mean daily clearness (share of clear-sky energy that reaches the ground), January to
# December: the plum-rain season (梅雨, mid-June to mid-July) is the dullest time of year and
# the subtropical high after it the sunniest.
_MONTHLY_CLEARNESS = (0.58, 0.52, 0.55, 0.60, 0.62, 0.48, 0.62, 0.68, 0.62, 0.64, 0.60, 0.60)
# Clear-sky irradiance on a roof tilted towards the south is higher than on flat ground in
# winter and a little lower in summer; amplitude for a roof pitch of about 20°.
_TILT_GAIN_AMPLITUDE = 0.2
_PERFORMANCE_RATIO = 0.8


def _stream(seed: int, year: int, name: str = "") -> np.random.Generator:
    """An independent random stream per (seed, year, name); crc32, unlike hash(), is stable across runs."""
    return np.random.default_rng([seed, year, zlib.crc32(name.encode())])


def _year_bounds_s(year: int) -> tuple[int, int]:
    tz = ZoneInfo(TIMEZONE)
    return int(datetime(year, 1, 1, tzinfo=tz).timestamp()), int(datetime(year + 1, 1, 1, tzinfo=tz).timestamp())


def _days(year: int) -> list[date]:
    first = date(year, 1, 1).toordinal()
    return [date.fromordinal(day) for day in range(first, date(year + 1, 1, 1).toordinal())]


def _iso(unix_s: np.ndarray) -> list[str]:
    """ISO 8601 local time with its offset (+08:00), as uploads must carry."""
    tz = ZoneInfo(TIMEZONE)
    return [datetime.fromtimestamp(int(s), tz).isoformat() for s in unix_s]


def _decimal_text(value: Decimal | float, places: str = "0.01") -> str:
    """A rating as exact decimal text: JSON floats would carry binary noise into Decimal params."""
    return f"{Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP).normalize():f}"


def _clear_sky_kw_per_kwp(start_s: np.ndarray, year_start_s: int) -> np.ndarray:
    """AC output per kWp under a clear sky at the middle of each interval.

    Haurwitz's clear-sky irradiance from the NOAA sun elevation the plugin itself uses, so a
    reading is non-zero only while the plugin also sees the sun up. Zero at night by construction.
    """
    elevation = sun_elevation_deg(start_s + _INTERVAL_S // 2, SUZHOU_LATITUDE, SUZHOU_LONGITUDE)
    cos_zenith = np.sin(np.radians(np.clip(elevation, 0.0, None)))
    irradiance_kw_per_m2 = np.where(
        cos_zenith > 0, 1.098 * cos_zenith * np.exp(-0.057 / np.maximum(cos_zenith, 1e-3)), 0.0
    )
    day_of_year = (start_s - year_start_s) // _DAY_S
    # Largest gain at the winter solstice (about 10 days before 1 January).
    tilt_gain = 1 + _TILT_GAIN_AMPLITUDE * np.cos(2 * np.pi * (day_of_year + 10) / 365)
    return irradiance_kw_per_m2 * tilt_gain * _PERFORMANCE_RATIO


def _weather(start_s: np.ndarray, year: int, seed: int) -> np.ndarray:
    """Share of clear-sky output per interval, the same for every plant in the park.

    A daily clearness drawn around the month's mean (clear, mixed and overcast days), and
    within each day clouds that come and go over about an hour, more so on mixed days.
    """
    rng = _stream(seed, year, "weather")
    year_start_s, _ = _year_bounds_s(year)
    mean = np.array(_MONTHLY_CLEARNESS)[[day.month - 1 for day in _days(year)]]
    concentration = 4.0
    daily = rng.beta(mean * concentration, (1 - mean) * concentration)
    per_interval = daily[(start_s - year_start_s) // _DAY_S]
    # Four quarter hours of white noise summed: cloud cover correlated over about an hour.
    cloud = np.convolve(rng.standard_normal(len(start_s) + 3), np.full(4, 0.5), mode="valid")
    sigma = 0.9 * (1 - per_interval)
    # Brief cloud-edge enhancement lets output exceed clear sky a little, never by more than 10 %.
    return np.minimum(per_interval * np.exp(sigma * cloud - sigma**2 / 2), 1.1)


def pv_year(meters: list[tuple[str, float]], year: int, seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A calendar year of 15-minute generation at Suzhou for each (meter id, capacity in kWp), CIR-PV-DG input.

    Every meter has a reading (zero at night) for every interval of the year in local time, so
    the plugin finds no gap. Output follows the sun, the season and the weather, is scaled to a
    specific yield of 1,090–1,160 kWh/kWp, and is limited by the inverter (capacity / 1.2), which
    wanders slightly at its limit as real ones do, so clipped hours never read as a flatline.
    """
    year_start_s, year_end_s = _year_bounds_s(year)
    start_s = np.arange(year_start_s, year_end_s, _INTERVAL_S, dtype=np.int64)
    sky_kw_per_kwp = _clear_sky_kw_per_kwp(start_s, year_start_s) * _weather(start_s, year, seed)
    interval_h = _INTERVAL_S / 3600
    ratings: dict[str, dict[str, str]] = {}
    capacity_total_kwp = ac_total_kw = ac_largest_kw = Decimal(0)
    energy_by_meter = []
    for meter_id, capacity_kwp in meters:
        rng = _stream(seed, year, meter_id)
        capacity = Decimal(str(capacity_kwp))
        inverter_ac_kw = (capacity / _DC_AC_RATIO).quantize(Decimal("0.1"), ROUND_HALF_UP)
        ratings[meter_id] = {"capacity_kwp": _decimal_text(capacity), "inverter_ac_kw": _decimal_text(inverter_ac_kw)}
        capacity_total_kwp += capacity
        ac_total_kw += inverter_ac_kw
        ac_largest_kw = max(ac_largest_kw, inverter_ac_kw)
        # Local shading, soiling and module temperature differ from roof to roof.
        energy_kwh = capacity_kwp * sky_kw_per_kwp * interval_h * rng.uniform(0.97, 1.03, len(start_s))
        target_kwh = capacity_kwp * rng.uniform(*_SPECIFIC_YIELD_KWH_PER_KWP)
        energy_kwh *= target_kwh / energy_kwh.sum()
        limit_kwh = float(inverter_ac_kw) * interval_h * rng.uniform(0.985, 1.0, len(start_s))
        energy_by_meter.append(np.round(np.minimum(energy_kwh, limit_kwh), 3))
    timestamps = _iso(start_s)
    data = pd.DataFrame(
        {
            "meter_id": np.repeat([meter_id for meter_id, _ in meters], len(start_s)),
            "timestamp": timestamps * len(meters),
            "energy_kwh": np.concatenate(energy_by_meter),
        }
    )
    params: dict[str, Any] = {
        "region": REGION,
        "capacity_kwp": _decimal_text(capacity_total_kwp),
        "inverter_ac_kw": _decimal_text(ac_total_kw),
        "meter_ratings": ratings,
        "latitude": SUZHOU_LATITUDE,
        "longitude": SUZHOU_LONGITUDE,
        "meter_accuracy_class": "1" if ac_largest_kw <= _LOW_VOLTAGE_LIMIT_KW else "0.5S",
        # Meters verified at commissioning and due again years later: no reading of this year
        # is reduced for late calibration.
        "calibration_due_date": date(year + 3, 12, 31).isoformat(),
        # None of this generation was sold as green electricity certificates.
        "green_certificate_kwh_by_year": {},
        "interval_minutes": _INTERVAL_S // 60,
        "timezone": TIMEZONE,
    }
    return data, params


@dataclass(frozen=True)
class _ChargerProfile:
    """How drivers use one kind of charger."""

    sessions_per_day: float
    # Relative frequency of session starts in each local hour, 0–23 h.
    hour_weights: tuple[int, ...]
    # Energy wanted per session: lognormal around this median.
    median_kwh: float
    # Average power over a session as a share of what the car can draw (battery taper, cold packs).
    power_share: tuple[float, float]
    # Mean time left plugged in after charging ends.
    idle_minutes_mean: float
    weekend_factor: float


# Residents plug into AC posts after work and stay the night, office workers arrive in the
# morning and are away at weekends.
_AC_PROFILE = _ChargerProfile(
    sessions_per_day=1.6,
    hour_weights=(3, 2, 1, 1, 1, 1, 2, 4, 9, 8, 4, 3, 3, 3, 3, 3, 4, 6, 9, 10, 8, 6, 4, 3),
    median_kwh=16.0,
    power_share=(0.85, 0.94),
    idle_minutes_mean=150.0,
    weekend_factor=0.7,
)
# Ride-hailing and taxi drivers use DC in the cheap night hours and around the midday shift
# change, every day of the week, and move their car on as soon as it is charged (idle fees).
_DC_PROFILE = _ChargerProfile(
    sessions_per_day=5.5,
    hour_weights=(8, 8, 6, 5, 4, 4, 5, 5, 4, 4, 5, 7, 8, 7, 5, 4, 4, 5, 5, 4, 4, 4, 5, 6),
    median_kwh=30.0,
    power_share=(0.45, 0.80),
    idle_minutes_mean=3.0,
    weekend_factor=1.1,
)
_AC_LIMIT_KW = 22.0
# An AC car's on-board charger draws at most 6.6 kW from a 7 kW post.
_ON_BOARD_CHARGER_KW = 6.6
_TURNOVER_S = 120
_MAX_STAY_S = 14 * 3600


def _charger_sessions(charger_id: str, rated_kw: float, year: int, seed: int) -> list[tuple[str, int, int, float]]:
    """(charger, start, end, kWh) for one charger: drivers arrive at random; one who finds the
    charger busy goes elsewhere, so sessions never overlap, and none runs past the year's end."""
    rng = _stream(seed, year, charger_id)
    is_ac = rated_kw <= _AC_LIMIT_KW
    profile = _AC_PROFILE if is_ac else _DC_PROFILE
    year_start_s, year_end_s = _year_bounds_s(year)
    day_count = (year_end_s - year_start_s) // _DAY_S
    weekend = np.array([day.weekday() >= 5 for day in _days(year)])
    counts = rng.poisson(profile.sessions_per_day * np.where(weekend, profile.weekend_factor, 1.0))
    total = int(counts.sum())
    weights = np.array(profile.hour_weights, dtype=float)
    hours = rng.choice(24, size=total, p=weights / weights.sum())
    start_s = year_start_s + np.repeat(np.arange(day_count), counts) * _DAY_S + hours * 3600
    start_s += rng.integers(0, 3600, total)
    energy_kwh = np.clip(rng.lognormal(np.log(profile.median_kwh), 0.45, total), 3.0, 75.0)
    energy_kwh = np.floor(energy_kwh * 1000) / 1000
    car_limit_kw = min(rated_kw, _ON_BOARD_CHARGER_KW) if is_ac else rated_kw
    power_kw = car_limit_kw * rng.uniform(*profile.power_share, total)
    charging_s = np.ceil(energy_kwh / power_kw * 3600).astype(np.int64)
    idle_s = (rng.exponential(profile.idle_minutes_mean, total) * 60).astype(np.int64)
    # Idle time is cut at the longest stay; charging time never is, so energy stays within rating.
    end_s = start_s + np.maximum(charging_s, np.minimum(charging_s + idle_s, _MAX_STAY_S))
    sessions = []
    free_from_s = year_start_s
    for position in np.argsort(start_s, kind="stable").tolist():
        begin, finish = int(start_s[position]), int(end_s[position])
        if begin >= free_from_s and finish <= year_end_s:
            sessions.append((charger_id, begin, finish, float(energy_kwh[position])))
            free_from_s = finish + _TURNOVER_S
    return sessions


def ev_year(chargers: list[tuple[str, float]], year: int, seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A calendar year of sessions at a charging hub of (charger id, rated kW), CIR-EV-CHG input.

    A 7 kW AC post sees one or two long sessions a day, a DC charger five or six short ones.
    Average power stays below the rating (on-board charger limits, battery taper), so no session
    delivers more than rated power × duration; session ids are unique across the hub.
    """
    sessions = sorted(
        (
            session
            for charger_id, rated_kw in chargers
            for session in _charger_sessions(charger_id, rated_kw, year, seed)
        ),
        key=lambda session: (session[1], session[0]),
    )
    start_s = np.array([session[1] for session in sessions], dtype=np.int64)
    end_s = np.array([session[2] for session in sessions], dtype=np.int64)
    data = pd.DataFrame(
        {
            "charger_id": [session[0] for session in sessions],
            "session_id": [f"SIP-{year}-{number:06d}" for number in range(1, len(sessions) + 1)],
            "start": _iso(start_s),
            "end": _iso(end_s),
            "energy_kwh": [session[3] for session in sessions],
        }
    )
    params: dict[str, Any] = {
        "region": REGION,
        # Every charger has its own rating below; the default is the smallest, the conservative one.
        "charger_rated_kw": _decimal_text(min(rated_kw for _, rated_kw in chargers), "0.001"),
        "charger_ratings_kw": {charger_id: _decimal_text(rated_kw, "0.001") for charger_id, rated_kw in chargers},
        "timezone": TIMEZONE,
    }
    return data, params


WETLAND_DATES = (date(2024, 7, 1), date(2025, 7, 1))


@dataclass(frozen=True)
class _Stratum:
    stratum_id: str
    # Area (ha) and mean salinity (ppt) as measured at each monitoring date.
    area_ha: tuple[float, float]
    salinity_ppt: tuple[float, float]
    # Typical plot stocks at the first date, t C/ha: biomass, and soil organic carbon to 1 m.
    biomass_tc_per_ha: float
    soc_tc_per_ha: float
    # Mean yearly gain in each, t C/ha/yr.
    biomass_gain_tc_per_ha_year: float
    soc_gain_tc_per_ha_year: float


# Strata of a coastal salt marsh (the demo's Taizhou Bay wetland project, Zhejiang), all of the
# plugin's `tidal_marsh` type: mangroves barely reach this far north. Each stratum is one registered
# parcel, so its id is the parcel's registry-wide identifier. Suaeda salsa on the
# accreting lower flats, former aquaculture ponds reopened to the tide (退养还滩) and being
# colonised, and Phragmites reed on the brackish upper marsh.
_WETLAND_TYPE = "tidal_marsh"
_STRATA = (
    # The lower marsh grows seaward on accreting mud; the new strip is not credited.
    _Stratum("TZB-SUAEDA-LOWER", (140.0, 142.5), (24.6, 25.3), 1.3, 52.0, 0.10, 1.10),
    _Stratum("TZB-POND-RESTORED", (90.0, 90.0), (21.8, 22.4), 0.9, 41.0, 0.40, 1.40),
    # Below 18 ppt: the plugin counts this stratum's methane.
    _Stratum("TZB-REED-UPPER", (70.0, 70.0), (8.7, 9.4), 7.2, 84.0, 0.50, 1.10),
)
_PLOTS_PER_STRATUM = 8
# Plot-to-plot spread of stocks and of their yearly change (t C/ha).
_STOCK_SPREAD = 0.12
_CHANGE_SD_TC_PER_HA = 0.3


def wetland_inventory(seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Strata and permanent plots of a 300 ha salt marsh at 2024-07-01 and 2025-07-01, CIR-WET-SINK input.

    Permanent plots (the same ids at both dates) let the plugin measure change plot by plot, which
    keeps the uncertainty near its 10 % allowance. The plugin's defaults (AR5 methane GWP, 10 %
    buffer, no leakage) are the conservative ones, so the parameters are empty.
    """
    rng = _stream(seed, WETLAND_DATES[0].year, "wetland")
    rows: list[dict[str, Any]] = []
    for stratum in _STRATA:
        rows.extend(
            {
                "record": "stratum",
                "stratum_id": stratum.stratum_id,
                "monitoring_date": when.isoformat(),
                "wetland_type": _WETLAND_TYPE,
                "area_ha": area_ha,
                "salinity_ppt": salinity_ppt,
            }
            for when, area_ha, salinity_ppt in zip(WETLAND_DATES, stratum.area_ha, stratum.salinity_ppt, strict=True)
        )
        first_biomass = stratum.biomass_tc_per_ha * rng.lognormal(0, _STOCK_SPREAD, _PLOTS_PER_STRATUM)
        first_soc = stratum.soc_tc_per_ha * rng.lognormal(0, _STOCK_SPREAD, _PLOTS_PER_STRATUM)
        second_biomass = first_biomass + rng.normal(
            stratum.biomass_gain_tc_per_ha_year, _CHANGE_SD_TC_PER_HA / 2, _PLOTS_PER_STRATUM
        )
        second_soc = first_soc + rng.normal(stratum.soc_gain_tc_per_ha_year, _CHANGE_SD_TC_PER_HA, _PLOTS_PER_STRATUM)
        for when, biomass_tc, soc_tc in (
            (WETLAND_DATES[0], first_biomass, first_soc),
            (WETLAND_DATES[1], second_biomass, second_soc),
        ):
            rows.extend(
                {
                    "record": "plot",
                    "stratum_id": stratum.stratum_id,
                    "monitoring_date": when.isoformat(),
                    "plot_id": f"{stratum.stratum_id}-P{plot + 1:02d}",
                    # Laboratory results are reported to 0.01 t C/ha.
                    "biomass_tc_per_ha": round(float(biomass_tc[plot]), 2),
                    "soc_tc_per_ha": round(float(soc_tc[plot]), 2),
                }
                for plot in range(_PLOTS_PER_STRATUM)
            )
    columns = [
        "record",
        "stratum_id",
        "monitoring_date",
        "wetland_type",
        "area_ha",
        "salinity_ppt",
        "plot_id",
        "biomass_tc_per_ha",
        "soc_tc_per_ha",
    ]
    return pd.DataFrame(rows, columns=columns), {}


def write_csv(data: pd.DataFrame, path: str | Path) -> None:
    """The upload format the CLI and HTTP API read: UTF-8 CSV, header, no index, LF line ends
    (the platform's default line end would make the bytes differ between machines)."""
    data.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def rectangle_parcel(west_lon: float, south_lat: float, width_m: float, height_m: float) -> dict[str, Any]:
    """A GeoJSON Polygon of about width × height metres, for demo parcels (equirectangular, fine
    at parcel scale)."""
    metres_per_degree_lat = 111_320.0
    metres_per_degree_lon = metres_per_degree_lat * math.cos(math.radians(south_lat))
    east = west_lon + width_m / metres_per_degree_lon
    north = south_lat + height_m / metres_per_degree_lat
    ring = [[west_lon, south_lat], [east, south_lat], [east, north], [west_lon, north], [west_lon, south_lat]]
    return {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring]]}
