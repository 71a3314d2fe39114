"""The gazetteer: every name the bot and the simulated backends share.

Cities, roads, bus lines, stops, stations, hospitals, departments and
utilities are written once, in the YAML files beside this module. The jieba
user dictionary, the NLU entity extractors and the city simulator's seed data
are all derived from here, so a name can never be known to one and not the
other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import yaml

GAZETTEER_DIR = Path(__file__).parent


@dataclass(frozen=True)
class BusLine:
    name: str
    first: str
    last: str
    stops: List[str]


@dataclass(frozen=True)
class MetroLine:
    name: str
    stations: List[str]


@dataclass(frozen=True)
class Hospital:
    name: str
    aliases: List[str]
    departments: List[str]


@dataclass
class CityGazetteer:
    """Names known in one city."""

    city: str
    districts: List[str]
    roads: Dict[str, List[str]]  # canonical name -> aliases
    bus_lines: List[BusLine]
    metro_lines: List[MetroLine]
    places: Dict[str, str]  # landmark as people say it -> metro station
    hospitals: List[Hospital]
    utility_companies: Dict[str, str]  # utility_type -> company
    hotline: str

    @property
    def bus_stops(self) -> List[str]:
        return _unique(stop for line in self.bus_lines for stop in line.stops)

    @property
    def stations(self) -> List[str]:
        return _unique(s for line in self.metro_lines for s in line.stations)


@dataclass
class Gazetteer:
    served_cities: List[str]
    other_cities: List[str]
    plate_prefixes: Dict[str, str]
    utility_types: Dict[str, List[str]]
    time_periods: Dict[str, List[str]]
    departments: Dict[str, List[str]]
    symptoms: Dict[str, str]
    cities: Dict[str, CityGazetteer] = field(default_factory=dict)

    def city_of_plate(self, plate: str) -> Optional[str]:
        """The served city a plate belongs to, by its longest matching prefix."""
        for prefix in sorted(self.plate_prefixes, key=len, reverse=True):
            if plate.upper().startswith(prefix):
                return self.plate_prefixes[prefix]
        return None

    def canonical_names(self, kind: str) -> Dict[str, str]:
        """Surface form -> canonical value for one entity kind.

        Aliases shared by two different canonical values (e.g. a road alias
        used in two cities) are left out: the backend resolves those with the
        user's city, the NLU must not guess.
        """
        pairs: List[tuple] = []
        if kind == "city":
            # Spans leave 市 out (深圳市 -> [深圳]市), as the contract annotates.
            pairs += [(c, c) for c in self.served_cities + self.other_cities]
        elif kind == "department":
            for name, aliases in self.departments.items():
                pairs += [(name, name)] + [(a, name) for a in aliases]
        elif kind == "utility_type":
            for name, words in self.utility_types.items():
                pairs += [(w, name) for w in words]
        elif kind == "time_period":
            for name, words in self.time_periods.items():
                pairs += [(w, name) for w in words]
        elif kind == "symptom":
            pairs += [(s, s) for s in self.symptoms]
        else:
            for city in self.cities.values():
                pairs += _city_pairs(city, kind)
        return _drop_ambiguous(pairs)


def _city_pairs(city: CityGazetteer, kind: str) -> List[tuple]:
    if kind == "road":
        return [(a, n) for n, al in city.roads.items() for a in [n, *al]]
    if kind == "hospital":
        return [(a, h.name) for h in city.hospitals for a in [h.name, *h.aliases]]
    if kind == "bus_line":
        # M375路 is also typed m375; plain numbers (10) are too ambiguous alone.
        return [(alias, line.name) for line in city.bus_lines
                for alias in {line.name, line.name.removesuffix("路")}
                if alias == line.name or not alias.isdigit()]
    if kind == "bus_stop":
        return [(s, s) for s in city.bus_stops]
    if kind == "place":
        return [(s, s) for s in city.stations] + [(p, p) for p in city.places]
    if kind == "district":
        return [(d, d) for d in city.districts]
    raise KeyError(kind)


def _drop_ambiguous(pairs: List[tuple]) -> Dict[str, str]:
    seen: Dict[str, str] = {}
    ambiguous = set()
    for surface, value in pairs:
        if surface in seen and seen[surface] != value:
            ambiguous.add(surface)
        seen.setdefault(surface, value)
    return {s: v for s, v in seen.items() if s not in ambiguous}


def _unique(items) -> List[str]:
    return list(dict.fromkeys(items))


def _load_city(path: Path) -> CityGazetteer:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return CityGazetteer(
        city=raw["city"],
        districts=raw["districts"],
        roads=raw["roads"],
        bus_lines=[BusLine(**b) for b in raw["bus_lines"]],
        metro_lines=[MetroLine(**m) for m in raw["metro_lines"]],
        places=raw["places"],
        hospitals=[Hospital(name=n, **h) for n, h in raw["hospitals"].items()],
        utility_companies=raw["utility_companies"],
        hotline=str(raw["hotline"]),
    )


@lru_cache(maxsize=None)
def load(directory: Path = GAZETTEER_DIR) -> Gazetteer:
    """Read common.yml and every file under cities/."""
    common = yaml.safe_load((directory / "common.yml").read_text(encoding="utf-8"))
    gaz = Gazetteer(**common)
    for path in sorted((directory / "cities").glob("*.yml")):
        city = _load_city(path)
        gaz.cities[city.city] = city
    return gaz
