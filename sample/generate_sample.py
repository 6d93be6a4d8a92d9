"""Regenerates the bundled sample (deterministic): orders as CSV per day, customers as JSON lines.

The sample is realistic on purpose, bad rows included, so `make run` shows quarantine at
work: malformed lines, unparseable values, out-of-range quantities, unknown statuses,
orphan customers, duplicate keys. 2026-11-25 is a bad day whose quarantine share exceeds
the quality gate; 2026-11-26 is a normal day.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "raw"
COUNTRIES = ["DE", "FR", "US", "GB", "ES", "IT", "NL", "SE", "PL", "JP"]
STATUSES = ["placed", "shipped", "delivered", "returned", "cancelled"]


def customers(rng: random.Random) -> list[dict]:
    rows = []
    for cid in range(1, 401):
        email = f"customer{cid}@example.{rng.choice(['com', 'org', 'net'])}"
        if cid in (17, 230, 391):
            email = email.replace("@", " at ")  # fails the email format rule (warn)
        rows.append({"customer_id": cid, "name": f"Customer {cid}", "email": email, "country": rng.choice(COUNTRIES),
                     "signup_date": (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(600))).isoformat()})
    return rows


def write_customers(rng: random.Random) -> None:
    path = HERE / "customers" / "customers.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in customers(rng)]
    lines.insert(120, '{"customer_id": 9001, "name": "Broken, "email": }')  # malformed JSON
    lines.insert(300, "not json at all")
    path.write_text("\n".join(lines) + "\n")


def order_rows(rng: random.Random, day: dt.date, count: int, first_id: int, bad_share: float) -> list[list[str]]:
    rows = []
    for i in range(count):
        ts = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.randrange(86400))
        rows.append([str(first_id + i), str(rng.randint(1, 400)), ts.strftime("%Y-%m-%d %H:%M:%S"),
                     rng.choice(STATUSES), str(rng.randint(1, 12)), f"{rng.uniform(2, 250):.2f}"])
    defects = [
        lambda r: r.__setitem__(4, rng.choice(["0", "-2", "5000"])),           # range
        lambda r: r.__setitem__(3, rng.choice(["unknown", "lost"])),            # accepted_values
        lambda r: r.__setitem__(1, str(rng.randint(800, 900))),                 # orphan customer
        lambda r: r.__setitem__(4, rng.choice(["two", "3.5"])),                 # not an int32 (extract)
        lambda r: r.__setitem__(2, "2026-13-45 10:00:00"),                      # not a timestamp (extract)
        lambda r: r.__setitem__(0, str(first_id + rng.randrange(count // 2))),  # duplicate key
    ]
    for index in rng.sample(range(count // 2, count), int(count * bad_share)):
        rng.choice(defects)(rows[index])
    return rows


def write_orders(rng: random.Random, day: dt.date, count: int, first_id: int, bad_share: float) -> None:
    path = HERE / "orders" / day.isoformat() / "orders.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = order_rows(rng, day, count, first_id, bad_share)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "customer_id", "order_ts", "status", "quantity", "unit_price"])
        for index, row in enumerate(rows):
            writer.writerow(row)
            if index in (500, 1700, 2600):
                out.write(f"{first_id + count + index},12,2026-11-26 09:00:00,placed\n")  # too few fields


def main() -> None:
    rng = random.Random(20261126)
    write_customers(rng)
    write_orders(rng, dt.date(2026, 11, 26), 3000, 100_000, 0.012)
    write_orders(rng, dt.date(2026, 11, 25), 1500, 90_000, 0.15)


if __name__ == "__main__":
    main()
