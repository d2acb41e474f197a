"""Deterministic MoMA-like rows and change scripts, so a fresh clone needs no extract files.

Rows follow the value domains of the real extracts (nationality and classification
frequencies, `''` for missing text, NULL for missing integers, partition values without
spaces) and always include the showcase artists the demo sequences refer to (1, 201, 266, 299,
441, 525, 568, 4609). The same (seed, sizes) give the same rows; batch N of a change script is a
function of the seed, N and the rows before it.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace

from lakehouse.cdc.source_tables import ARTISTS, ARTWORKS, MOMA_TABLES, CdcError, Table

SHOWCASE_ARTISTS = [
    (1, "Robert Arneson", "American", "Male", 1930, 1992),
    (201, "Aoki Toshio", "Japanese", "Male", None, None),
    (266, "Bacard Fils", "French", "Male", 1845, None),
    (299, "Gerhard H. Bakker", "American", "Male", 1906, 1988),
    (441, "J. J. Beljon", "Dutch", "Male", 1922, 2002),
    (525, "Palme Berthold", "", "", None, None),
    (568, "Isabel Bishop", "American", "Female", 1902, 1988),
    (4609, "Pablo Picasso", "Spanish", "Male", 1881, 1973),
]

NATIONALITIES = [
    ("American", 5199), ("", 2486), ("German", 930), ("French", 839), ("British", 834),
    ("Italian", 531), ("Japanese", 499), ("Swiss", 280), ("Dutch", 265),
    ("Nationality_Unknown", 258), ("Austrian", 243), ("Canadian", 196), ("Spanish", 180),
    ("Russian", 160), ("Mexican", 150), ("Brazilian", 120), ("Belgian", 110), ("Swedish", 100),
    ("Danish", 90), ("Argentine", 80), ("Czech", 75), ("Polish", 70), ("South_African", 40),
    ("New_Zealander", 20), ("Costa_Rican", 8), ("Puerto_Rican", 10), ("Canadian_Inuit", 12),
]  # fmt: skip
GENDERS = [("Male", 9824), ("", 3065), ("Female", 2193), ("male", 6)]
CLASSIFICATIONS = [
    ("Photograph", 1127), ("Print", 1019), ("Illustrated_Book", 939), ("Not_Assigned", 466),
    ("Drawing", 456), ("Design", 383), ("Painting", 102), ("Mies_van_der_Rohe_Archive", 84),
    ("Architecture", 80), ("Sculpture", 78), ("Video", 70), ("Film", 64), ("Multiple", 33),
    ("Installation", 23), ("Frank_Lloyd_Wright_Archive", 20), ("Media", 14),
    ("Periodical", 13), ("Audio", 12), ("Work_on_Paper", 11), ("Ephemera", 3), ("Textile", 1),
    ("Performance", 1), ("Furniture_and_Interiors", 1),
]  # fmt: skip
DEPARTMENTS = {
    "Photograph": "Photography", "Print": "Prints & Illustrated Books",
    "Illustrated_Book": "Prints & Illustrated Books", "Drawing": "Drawings",
    "Design": "Architecture & Design", "Painting": "Painting & Sculpture",
    "Mies_van_der_Rohe_Archive": "Architecture & Design", "Architecture": "Architecture & Design",
    "Sculpture": "Painting & Sculpture", "Video": "Media and Performance Art", "Film": "Film",
    "Multiple": "Prints & Illustrated Books", "Installation": "Media and Performance Art",
    "Frank_Lloyd_Wright_Archive": "Architecture & Design", "Media": "Media and Performance Art",
    "Periodical": "Prints & Illustrated Books", "Audio": "Media and Performance Art",
    "Work_on_Paper": "Drawings", "Ephemera": "Fluxus Collection",
    "Textile": "Architecture & Design",
    "Performance": "Media and Performance Art", "Furniture_and_Interiors": "Architecture & Design",
}  # fmt: skip
MEDIUMS = {
    "Photograph": ["Gelatin silver print", "Albumen silver print", "Chromogenic color print"],
    "Print": ["Lithograph", "Etching", "Woodcut", "Screenprint", "Drypoint"],
    "Illustrated_Book": ["Illustrated book with lithographs", "Letterpress"],
    "Drawing": ["Ink on paper", "Pencil on paper", "Charcoal on paper"],
    "Painting": ["Oil on canvas", "Acrylic on canvas"],
    "Video": ["Video (color, sound)"],
    "Film": ["35mm film", "16mm film"],
}
FIRST = ["Anna", "Paul", "Marie", "Hans", "Yoko", "Carlos", "Eva", "Jean", "Ilse", "Tomas",
         "Lucia", "Kazuo", "Nina", "Otto", "Rosa", "Louis", "Ada", "Pierre", "Sofia",
         "Max"]  # fmt: skip
LAST = ["Albers", "Moreau", "Tanaka", "Rivera", "Schmidt", "Novak", "Berg", "Costa", "Dubois",
        "Hartmann", "Ishii", "Klein", "Lindqvist", "Marin", "Okada", "Petrov", "Quinn", "Rossi",
        "Silva", "Vogel", "Weber", "Young", "Zeller", "Abe", "Brandt"]  # fmt: skip
WORDS = ["Untitled", "Composition", "Portrait", "Study", "Landscape", "Night", "Circus", "Still",
         "Life", "Figure", "Head", "Street", "Garden", "Blue", "Red", "Window", "Chair", "House",
         "River", "Woman", "Man", "Bird", "City", "Light", "Shadow", "Series", "No."]  # fmt: skip
CREDITS = ["Gift of the artist", "Purchase", "Abby Aldrich Rockefeller Fund",
           "Gift of Mr. and Mrs. Walter Bareiss", "Mrs. John D. Rockefeller 3rd Fund",
           "Acquired through the Lillie P. Bliss Bequest"]  # fmt: skip


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _measure(rng: random.Random, p: float) -> str:
    return f"{rng.uniform(1, 300):.4f}".rstrip("0").rstrip(".") if rng.random() < p else ""


def artist_row(rng: random.Random, artist_id: int) -> dict:
    birth = rng.randint(1730, 2012) if rng.random() < 0.75 else None
    death = None
    if birth is not None and rng.random() < 0.35:
        death = min(2017, birth + rng.randint(20, 100))
    return {
        "artist_id": artist_id,
        "name": f"{rng.choice(FIRST)} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {rng.choice(LAST)}",
        "nationality": _pick(rng, NATIONALITIES),
        "gender": _pick(rng, GENDERS),
        "birth_year": birth,
        "death_year": death,
    }


def artwork_row(rng: random.Random, artwork_id: int, artist: dict) -> dict:
    classification = _pick(rng, CLASSIFICATIONS)
    assigned = classification != "Not_Assigned"
    height, width = _measure(rng, 0.78), _measure(rng, 0.77)
    year = rng.randint(1930, 2016)
    return {
        "artwork_id": artwork_id,
        "title": " ".join(rng.choices(WORDS, k=rng.randint(1, 4))),
        "artist_id": artist["artist_id"],
        "name": artist["name"],
        "date": rng.randint(1818, 2015) if rng.random() < 0.63 else None,
        "medium": rng.choice(MEDIUMS.get(classification, ["Mixed media"])),
        "dimensions": f"{height or 10} x {width or 8} cm" if height or width else "",
        "acquisition_date": (
            f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            if rng.random() < 0.88
            else ""
        ),
        "credit": rng.choice(CREDITS),
        "catalogue": rng.choice("YN") if assigned else "",
        "department": DEPARTMENTS[classification] if assigned else "",
        "classification": classification,
        "object_number": f"{rng.randint(1, 999)}.{year}" if assigned else "",
        "diameter_cm": _measure(rng, 0.01),
        "circumference_cm": "",
        "height_cm": height,
        "length_cm": _measure(rng, 0.005),
        "width_cm": width,
        "depth_cm": _measure(rng, 0.07),
        "weight_kg": "",
        "durations": rng.randint(0, 475200) if classification in ("Video", "Film") else None,
    }


def generate_rows(artists: int, artworks: int, seed: int) -> dict[str, list[dict]]:
    """`artists` artists (the showcase ones first) and `artworks` artworks by them."""
    if artists < len(SHOWCASE_ARTISTS):
        raise CdcError(f"artists must be at least {len(SHOWCASE_ARTISTS)}, not {artists}")
    if artworks < 0:
        raise CdcError(f"artworks must not be negative, not {artworks}")
    rng = random.Random(f"moma-rows:{seed}")
    names = ARTISTS.column_names
    rows_a = [dict(zip(names, r, strict=True)) for r in SHOWCASE_ARTISTS]
    taken = {r["artist_id"] for r in rows_a}
    # Ids as sparse as the collection's; wider ranges only for benchmark sizes (past 35k
    # artists, 110k artworks), so smaller runs draw the same ids as before.
    upper = max(70_000, 2 * (artists + len(taken)))
    pool = [i for i in rng.sample(range(2, upper), artists + len(taken)) if i not in taken]
    rows_a += [artist_row(rng, i) for i in pool[: artists - len(rows_a)]]
    # Popular artists have many works, as in the collection (a few thousand per top artist).
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(rows_a))]
    # Accumulated once: choices(weights=...) would redo it per artwork (the same draws).
    cumulative = list(itertools.accumulate(weights))
    ids = rng.sample(range(3, max(220_000, 2 * artworks)), artworks)
    rows_w = [artwork_row(rng, i, rng.choices(rows_a, cum_weights=cumulative)[0]) for i in ids]
    return {ARTISTS.qualified: rows_a, ARTWORKS.qualified: rows_w}


# -- changes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One source-side change: an INSERT (row), UPDATE (key + new values) or DELETE (key)."""

    kind: str  # insert, update, delete
    table: Table
    key: int
    values: dict  # insert: the whole row; update: the changed columns; delete: {}
    after: dict | None = None  # the whole row once applied (None for a delete)


class ChangeScript:
    """Batches of inserts, updates (including partition moves and no-op updates) and deletes
    over a table state it keeps current."""

    def __init__(self, rows: dict[str, list[dict]], seed: int):
        self.seed = seed
        self.state: dict[str, dict[int, dict]] = {
            name: {r[MOMA_TABLES[name].key[0]]: dict(r) for r in table_rows}
            for name, table_rows in rows.items()
        }
        self.next_id = {name: max(s, default=0) + 1 for name, s in self.state.items()}

    def batch(self, number: int, size: int) -> list[Op]:
        """Batch `number` (1, 2, ...): `size` changes, applied to the state as returned."""
        rng = random.Random(f"moma-changes:{self.seed}:{number}")
        ops = []
        for _ in range(size):
            op = self._one(rng)
            self.apply(op)
            if op.kind != "delete":
                op = replace(op, after=dict(self.state[op.table.qualified][op.key]))
            ops.append(op)
        return ops

    def apply(self, op: Op) -> None:
        rows = self.state[op.table.qualified]
        if op.kind == "insert":
            rows[op.key] = dict(op.values)
            self.next_id[op.table.qualified] = max(self.next_id[op.table.qualified], op.key + 1)
        elif op.kind == "update":
            rows[op.key].update(op.values)
        else:
            del rows[op.key]

    def _one(self, rng: random.Random) -> Op:
        artists, artworks = self.state[ARTISTS.qualified], self.state[ARTWORKS.qualified]
        kind = rng.choices(
            ["insert_artist", "insert_artwork", "update_artist", "move_artist", "update_artwork",
             "move_artwork", "noop", "delete_artwork", "delete_artist"],
            [8, 14, 16, 8, 20, 8, 4, 6, 2],
        )[0]  # fmt: skip
        if kind == "insert_artist" or not artists:
            key = self.next_id[ARTISTS.qualified] + rng.randint(0, 3)
            return Op("insert", ARTISTS, key, artist_row(rng, key))
        if kind == "insert_artwork" or not artworks:
            key = self.next_id[ARTWORKS.qualified] + rng.randint(0, 3)
            artist = artists[rng.choice(sorted(artists))]
            return Op("insert", ARTWORKS, key, artwork_row(rng, key, artist))
        a_key = rng.choice(sorted(artists))
        w_key = rng.choice(sorted(artworks))
        if kind == "update_artist":
            birth = rng.randint(1730, 2000)
            return Op("update", ARTISTS, a_key, {"birth_year": birth, "death_year": birth + 60})
        if kind == "move_artist":
            current = artists[a_key]["nationality"]
            choices = [n for n, _ in NATIONALITIES if n != current]
            return Op("update", ARTISTS, a_key, {"nationality": rng.choice(choices)})
        if kind == "update_artwork":
            return Op("update", ARTWORKS, w_key, {"date": rng.randint(1900, 2015)})
        if kind == "move_artwork":
            current = artworks[w_key]["classification"]
            choices = [c for c, _ in CLASSIFICATIONS if c != current]
            return Op("update", ARTWORKS, w_key, {"classification": rng.choice(choices)})
        if kind == "noop":
            return Op("update", ARTISTS, a_key, {"gender": artists[a_key]["gender"]})
        if kind == "delete_artwork":
            return Op("delete", ARTWORKS, w_key, {})
        return Op("delete", ARTISTS, a_key, {})
