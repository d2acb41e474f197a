"""Deterministic TICKIT generator: the seven raw tables as pipe-delimited text with a header.

Vectorised with numpy; the same seed and scale give byte-identical files. Every foreign key
resolves, and the invariants of the reference hold (prices in whole dollars, 15 % commission,
sales within a listing's tickets, sale after listing and before the event, ...).
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lakehouse.storage import ObjectStore, StorageError, store_for_uri
from lakehouse.tickit.raw_tables import TABLES, header, raw_key, scaled_rows

FIRST_DATEID = 1827
DAYS = 365
YEAR_START = np.datetime64("2008-01-01T00:00:00", "s")
HOLIDAYS = [
    "01-01",
    "01-21",
    "02-18",
    "05-26",
    "07-04",
    "09-01",
    "10-13",
    "11-11",
    "11-27",
    "12-25",
]

CATEGORIES = [
    (1, "Sports", "MLB", "Major League Baseball"),
    (2, "Sports", "NHL", "National Hockey League"),
    (3, "Sports", "NFL", "National Football League"),
    (4, "Sports", "NBA", "National Basketball Association"),
    (5, "Sports", "MLS", "Major League Soccer"),
    (6, "Shows", "Musicals", "Musical theatre"),
    (7, "Shows", "Plays", "All non-musical theatre"),
    (8, "Shows", "Opera", "All opera and light opera"),
    (9, "Concerts", "Pop", "All rock and pop music concerts"),
    (10, "Concerts", "Jazz", "All jazz singers and bands"),
    (11, "Concerts", "Classical", "All symphony, concerto, and choir concerts"),
]
# Shows and concerts dominate TICKIT's events; sports are a minority.
CATEGORY_WEIGHTS = np.array([2, 2, 2, 2, 2, 20, 20, 8, 30, 6, 6], dtype=float)

CITIES = [
    ("New York City", "NY"),
    ("Los Angeles", "CA"),
    ("San Francisco", "CA"),
    ("San Diego", "CA"),
    ("Chicago", "IL"),
    ("Houston", "TX"),
    ("Dallas", "TX"),
    ("Austin", "TX"),
    ("Phoenix", "AZ"),
    ("Philadelphia", "PA"),
    ("Pittsburgh", "PA"),
    ("Boston", "MA"),
    ("Seattle", "WA"),
    ("Portland", "OR"),
    ("Denver", "CO"),
    ("Miami", "FL"),
    ("Orlando", "FL"),
    ("Tampa", "FL"),
    ("Atlanta", "GA"),
    ("Nashville", "TN"),
    ("Memphis", "TN"),
    ("Detroit", "MI"),
    ("Minneapolis", "MN"),
    ("St. Louis", "MO"),
    ("Kansas City", "MO"),
    ("New Orleans", "LA"),
    ("Las Vegas", "NV"),
    ("Salt Lake City", "UT"),
    ("Cleveland", "OH"),
    ("Columbus", "OH"),
    ("Cincinnati", "OH"),
    ("Indianapolis", "IN"),
    ("Milwaukee", "WI"),
    ("Baltimore", "MD"),
    ("Washington", "DC"),
    ("Charlotte", "NC"),
    ("Raleigh", "NC"),
    ("Buffalo", "NY"),
    ("Albany", "NY"),
    ("Hartford", "CT"),
    ("Providence", "RI"),
    ("Newark", "NJ"),
    ("Sacramento", "CA"),
    ("San Jose", "CA"),
    ("Oklahoma City", "OK"),
    ("Omaha", "NE"),
    ("Albuquerque", "NM"),
    ("Boise", "ID"),
    ("Anchorage", "AK"),
    ("Honolulu", "HI"),
]
VENUE_FIRST = [
    "Lincoln",
    "Madison",
    "Carnegie",
    "Liberty",
    "Union",
    "Memorial",
    "Grand",
    "Royal",
    "Civic",
    "Pacific",
    "Atlantic",
    "Harbor",
    "Riverside",
    "Summit",
    "Heritage",
    "Victory",
    "Pioneer",
    "Capitol",
    "Majestic",
    "Paramount",
]
VENUE_KIND = [
    "Center",
    "Arena",
    "Stadium",
    "Theatre",
    "Hall",
    "Amphitheatre",
    "Field",
    "Park",
    "Opera House",
    "Coliseum",
]
FIRST_NAMES = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Dorothy",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "George",
    "Melissa",
    "Edward",
    "Deborah",
    "Laurel",
    "Rafael",
    "Kylie",
    "Ignatius",
    "Hedda",
    "Blossom",
    "Uriah",
    "Zephr",
    "Quon",
    "Thaddeus",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Clay",
    "Vaughn",
    "Mcbride",
    "Ochoa",
]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com"]
# Event names by category group: adjective + noun pairs keep names readable and varied.
EVENT_WORDS = {
    "Sports": (
        ["Eastern", "Western", "Northern", "Southern", "Metro", "Capital", "Bay", "Valley"],
        ["Rivals Cup", "Derby", "Classic", "Showdown", "Series Game", "Invitational"],
    ),
    "Shows": (
        ["The Phantom", "Midnight", "Summer", "The Last", "Silent", "Golden", "Winter", "Crimson"],
        ["Garden", "Serenade", "Masquerade", "Tale", "Voyage", "Promise", "Letters", "Dream"],
    ),
    "Concerts": (
        ["Electric", "Velvet", "Blue", "Neon", "Wild", "Hollow", "Silver", "Burning"],
        ["Orchestra", "Quartet", "Lanterns", "Horizon", "Echoes", "Collective", "Ensemble", "Trio"],
    ),
}


class GeneratorError(ValueError):
    pass


@dataclass(frozen=True)
class GeneratedTable:
    name: str
    rows: int
    data: bytes


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(str), pa.string())


def _ints(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values.astype(np.int64)), pa.string())


def _money(cents: np.ndarray) -> pa.Array:
    """Decimals with exactly two places, from integer cents (no float rounding)."""
    cents = cents.astype(np.int64)
    dollars = pc.cast(pa.array(cents // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(dollars, frac, ".")


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(YEAR_START + seconds.astype("timedelta64[s]")), pa.string())


def _bools(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values.astype(bool)), pa.string())


def _encode(name: str, columns: dict[str, pa.Array]) -> bytes:
    expected = [c for c, _ in TABLES[name]]
    assert list(columns) == expected, (name, list(columns))
    table = pa.table(columns)
    buf = io.BytesIO()
    buf.write((header(name) + "\n").encode())
    # quoting 'none' makes pyarrow refuse any value containing '|', '"' or a newline.
    pacsv.write_csv(
        table, buf, pacsv.WriteOptions(include_header=False, delimiter="|", quoting_style="none")
    )
    return buf.getvalue()


def generate(scale: float = 1.0, seed: int = 42) -> dict[str, GeneratedTable]:
    """All seven tables, encoded, in dependency order."""
    if not (scale > 0 and np.isfinite(scale)):
        raise GeneratorError(f"--scale must be a positive number, got {scale!r}")
    n = {t: scaled_rows(t, scale) for t in TABLES}
    if n["user"] < 2:
        raise GeneratorError(f"--scale {scale} is too small: a sale needs a buyer and a seller")
    rng = np.random.default_rng(seed)
    out: dict[str, GeneratedTable] = {}

    def emit(name: str, columns: dict[str, pa.Array]) -> None:
        rows = len(next(iter(columns.values())))
        out[name] = GeneratedTable(name, rows, _encode(name, columns))

    # category: fixed.
    cat = list(zip(*CATEGORIES, strict=True))
    emit(
        "category",
        {
            "catid": _ints(np.array(cat[0])),
            "catgroup": pa.array(cat[1]),
            "catname": pa.array(cat[2]),
            "catdesc": pa.array(cat[3]),
        },
    )

    # date: 365 days from 2008-01-01; weeks start on Sunday, week 1 = Jan 1-5.
    days = np.arange(DAYS)
    caldate = np.datetime64("2008-01-01") + days
    month = caldate.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (caldate - caldate.astype("datetime64[M]")).astype(int) + 1
    jan1_sun0 = (np.datetime64("2008-01-01").astype(int) + 4) % 7  # 1970-01-01 was a Thursday
    week = (days + jan1_sun0) // 7 + 1  # strftime('%U') + 1
    holiday = np.isin(caldate.astype(str), np.char.add("2008-", np.array(HOLIDAYS)))
    emit(
        "date",
        {
            "dateid": _ints(FIRST_DATEID + days),
            "caldate": pc.cast(pa.array(caldate), pa.string()),
            "day": _ints(dom),
            "month": _ints(month),
            "year": _ints(np.full(DAYS, 2008)),
            "week": _ints(week),
            "qtr": _ints((month + 2) // 3),
            "holiday": _bools(holiday),
        },
    )

    # venue
    nv = n["venue"]
    vcity = rng.integers(0, len(CITIES), nv)
    cities = np.array([c for c, _ in CITIES])
    states = np.array([s for _, s in CITIES])
    vname = np.char.add(
        np.char.add(np.array(VENUE_FIRST)[rng.integers(0, len(VENUE_FIRST), nv)], " "),
        np.array(VENUE_KIND)[rng.integers(0, len(VENUE_KIND), nv)],
    )
    seats = np.where(rng.random(nv) < 0.1, 0, rng.integers(1_000, 80_000, nv))
    emit(
        "venue",
        {
            "venueid": _ints(np.arange(1, nv + 1)),
            "venuename": _strings(vname),
            "venuecity": _strings(cities[vcity]),
            "venuestate": _strings(states[vcity]),
            "venueseats": _ints(seats),
        },
    )

    # user
    nu = n["user"]
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    usernames = _unique_usernames(rng, nu, letters)
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), nu)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), nu)]
    ucity = rng.integers(0, len(CITIES), nu)
    userid = np.arange(1, nu + 1)
    email = np.char.add(
        np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last)),
        np.char.add(
            np.char.add(userid.astype(str), "@"),
            np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), nu)],
        ),
    )
    digits = rng.integers(0, 10, (nu, 10)).astype(str)
    area = np.char.add(np.char.add(digits[:, 0], digits[:, 1]), digits[:, 2])
    mid = np.char.add(np.char.add(digits[:, 3], digits[:, 4]), digits[:, 5])
    end = np.char.add(
        np.char.add(digits[:, 6], digits[:, 7]), np.char.add(digits[:, 8], digits[:, 9])
    )
    phone = np.char.add(
        np.char.add(np.char.add("(", area), ") "), np.char.add(np.char.add(mid, "-"), end)
    )
    likes = rng.random((nu, 10)) < np.array([0.45, 0.4, 0.5, 0.3, 0.35, 0.25, 0.45, 0.35, 0.4, 0.4])
    user_cols = {
        "userid": _ints(userid),
        "username": _strings(usernames),
        "firstname": _strings(first),
        "lastname": _strings(last),
        "city": _strings(cities[ucity]),
        "state": _strings(states[ucity]),
        "email": _strings(email),
        "phone": _strings(phone),
    }
    for i, (col, _) in enumerate(TABLES["user"][8:]):
        user_cols[col] = _bools(likes[:, i])
    emit("user", user_cols)

    # event: start times from noon to 20:30 on the half hour, inside the 2008 calendar.
    ne = n["event"]
    e_venue = rng.integers(1, nv + 1, ne)
    e_cat = rng.choice(np.arange(1, 12), ne, p=CATEGORY_WEIGHTS / CATEGORY_WEIGHTS.sum())
    e_day = rng.integers(0, DAYS, ne)
    e_start = e_day * 86400 + rng.integers(24, 42, ne) * 1800
    group_of = {c[0]: c[1] for c in CATEGORIES}
    e_group = np.array([group_of[c] for c in range(1, 12)])[e_cat - 1]
    e_name = np.empty(ne, dtype=object)
    for g, (adj, noun) in EVENT_WORDS.items():
        m = e_group == g
        k = int(m.sum())
        e_name[m] = np.char.add(
            np.char.add(np.array(adj)[rng.integers(0, len(adj), k)], " "),
            np.array(noun)[rng.integers(0, len(noun), k)],
        )
    emit(
        "event",
        {
            "eventid": _ints(np.arange(1, ne + 1)),
            "venueid": _ints(e_venue),
            "catid": _ints(e_cat),
            "dateid": _ints(FIRST_DATEID + e_day),
            "eventname": pa.array(e_name.astype(str)),
            "starttime": _timestamps(e_start),
        },
    )

    # listing: sellers are a subset of users; listed before the event starts.
    nl = n["listing"]
    seller_pool = np.sort(rng.choice(userid, max(1, int(nu * 0.6)), replace=False))
    l_seller = seller_pool[rng.integers(0, len(seller_pool), nl)]
    l_event = rng.integers(1, ne + 1, nl)
    l_start = e_start[l_event - 1]
    l_time = (rng.random(nl) * l_start).astype(np.int64)
    l_tickets = rng.integers(1, 31, nl)
    l_price = np.clip(np.rint(rng.lognormal(4.3, 0.8, nl)), 1, 2500).astype(np.int64)
    emit(
        "listing",
        {
            "listid": _ints(np.arange(1, nl + 1)),
            "sellerid": _ints(l_seller),
            "eventid": _ints(l_event),
            "dateid": _ints(FIRST_DATEID + l_time // 86400),
            "numtickets": _ints(l_tickets),
            "priceperticket": _money(l_price * 100),
            "totalprice": _money(l_tickets * l_price * 100),
            "listtime": _timestamps(l_time),
        },
    )

    # sale: split each listing's tickets into lots of 1-8 and sell a random subset of the lots,
    # so the tickets sold never exceed the tickets listed. Some sellers never sell (their
    # listings are left out), so fct_listings is smaller than listing.
    ns = n["sale"]
    silent = rng.random(len(seller_pool)) < 0.05
    can_sell = ~np.isin(l_seller, seller_pool[silent])
    lots = rng.integers(1, 9, (nl, 30))
    fits = (np.cumsum(lots, axis=1) <= l_tickets[:, None]) & can_sell[:, None]
    lot_listing, lot_index = np.nonzero(fits)
    if len(lot_listing) < ns:
        raise GeneratorError(
            f"--scale {scale} leaves {len(lot_listing)} ticket lots for {ns} sales; "
            "use a larger scale"
        )
    pick = rng.choice(len(lot_listing), ns, replace=False)
    s_list = lot_listing[pick]
    s_qty = lots[s_list, lot_index[pick]]
    s_seller = l_seller[s_list]
    buyer_pool = np.sort(rng.choice(userid, max(2, int(nu * 0.8)), replace=False))
    b_idx = rng.integers(0, len(buyer_pool), ns)
    s_buyer = buyer_pool[b_idx]
    clash = s_buyer == s_seller
    s_buyer[clash] = buyer_pool[(b_idx[clash] + 1) % len(buyer_pool)]
    s_start = l_start[s_list]
    s_time = l_time[s_list] + (rng.random(ns) * (s_start - l_time[s_list])).astype(np.int64)
    order = np.lexsort((s_list, s_time))  # sale ids follow time, as a ticketing system's would
    s_list, s_qty, s_seller, s_buyer, s_time = (
        a[order] for a in (s_list, s_qty, s_seller, s_buyer, s_time)
    )
    paid = s_qty * l_price[s_list]
    emit(
        "sale",
        {
            "saleid": _ints(np.arange(1, ns + 1)),
            "listid": _ints(s_list + 1),
            "sellerid": _ints(s_seller),
            "buyerid": _ints(s_buyer),
            "eventid": _ints(l_event[s_list]),
            "dateid": _ints(FIRST_DATEID + s_time // 86400),
            "qtysold": _ints(s_qty),
            "pricepaid": _money(paid * 100),
            "commission": _money(paid * 15),  # 15 % of whole dollars is exact in cents
            "saletime": _timestamps(s_time),
        },
    )
    return out


def _unique_usernames(rng: np.random.Generator, n: int, letters: np.ndarray) -> np.ndarray:
    """n distinct names of the TICKIT form: 3 letters, 2 digits, 3 letters (e.g. JJK84WTE)."""
    names = np.empty(0, dtype="<U8")
    while len(names) < n:
        k = (n - len(names)) * 2 + 16
        parts = letters[rng.integers(0, 26, (k, 6))]
        nums = rng.integers(0, 100, k)
        cand = np.char.add(
            np.char.add(
                np.char.add(np.char.add(parts[:, 0], parts[:, 1]), parts[:, 2]),
                np.char.zfill(nums.astype(str), 2),
            ),
            np.char.add(np.char.add(parts[:, 3], parts[:, 4]), parts[:, 5]),
        )
        merged = np.concatenate([names, cand])
        _, first_seen = np.unique(merged, return_index=True)
        names = merged[np.sort(first_seen)]
    return names[:n]


def write(store: ObjectStore, tables: dict[str, GeneratedTable]) -> None:
    for t in tables.values():
        store.put_bytes(raw_key(t.name), t.data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lakehouse-tickit-gen",
        description="Generate the TICKIT raw files (pipe-delimited, one header line) under "
        "raw_tickit_data/<table>/<table>.txt in a directory or an s3:// prefix.",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1 = classic TICKIT sizes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--target", required=True, help="directory or s3://bucket/prefix")
    args = parser.parse_args(argv)
    try:
        tables = generate(args.scale, args.seed)
        store = store_for_uri(args.target)
        write(store, tables)
    except (GeneratorError, StorageError) as e:
        print(f"lakehouse-tickit-gen: {e}", file=sys.stderr)
        return 2
    for t in tables.values():
        print(f"{store.uri(raw_key(t.name))}\t{t.rows} rows\t{len(t.data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
