"""History page speed at size: server time of /history/ pages for a user with 10,000 calls in a
database of 1,000,000 calls, with the project's indexes and, in the same run, without them
(only Django's default foreign-key indexes).

Run: .venv/bin/python bench/history.py --db sqlite      (or --db postgres)
Seeding 1,000,000 calls takes a few minutes the first time; the database is kept for re-runs."""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--heavy-calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    name = f"callkit_bench_{args.calls}"
    if args.db == "sqlite":
        url = f"sqlite:////tmp/{name}.sqlite3"
    else:
        subprocess.run(["psql", "-h", "127.0.0.1", "-d", "postgres", "-qc", f"CREATE DATABASE {name}"],
                       capture_output=True)
        url = f"postgres://root@127.0.0.1:5432/{name}"
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="callkit_web.settings", DJANGO_DEBUG="1")
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from calls.models import Call, HistoryEntry, User
    from calls.selectors import PAGE_SIZE, Cursor

    setup_test_environment()
    call_command("migrate", verbosity=0)
    if Call.objects.count() < args.calls:
        print(f"seeding {args.calls} calls among {args.users} users (once)…", flush=True)
        call_command("seed_history", users=args.users, calls=args.calls - Call.objects.count(),
                     heavy_calls=args.heavy_calls)
        if args.db == "postgres":
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
    heavy = User.objects.get(username="heavy")
    total = HistoryEntry.objects.filter(user=heavy).count()
    last = (HistoryEntry.objects.filter(user=heavy).order_by("-created_at", "-id")
            .values_list("created_at", "id")[total - PAGE_SIZE - 1])
    deep = Cursor(*last).encode()
    contact = HistoryEntry.objects.filter(user=heavy).values_list("other_id", flat=True).first()
    contact_name = User.objects.get(pk=contact).display_name
    cases = [
        ("first page", "/history/"),
        (f"last page (row {total - PAGE_SIZE} of {total})", f"/history/?cursor={deep}"),
        ("missed", "/history/?filter=missed"),
        ("outgoing", "/history/?filter=outgoing"),
        ("incoming", "/history/?filter=incoming"),
        ("audio", "/history/?media=audio"),
        ("video", "/history/?media=video"),
        ("search by contact", f"/history/?q={contact_name.replace(' ', '+')}"),
        ("per-contact page", f"/history/with/{contact}/"),
        ("missed badge", "/history/badge/"),
    ]
    client = Client()
    client.force_login(heavy)

    def measure() -> dict[str, float]:
        out = {}
        for label, url in cases:
            client.get(url)  # warm
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            out[label] = statistics.median(times)
        return out

    with_indexes = measure()
    indexes = [i for i in HistoryEntry._meta.indexes]
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(HistoryEntry, index)
    if args.db == "postgres":
        with connection.cursor() as cur:
            cur.execute("ANALYZE calls_historyentry")
    try:
        without = measure()
    finally:
        with connection.schema_editor() as editor:
            for index in indexes:
                editor.add_index(HistoryEntry, index)

    print(f"\n/history/ server time, {args.db}, {Call.objects.count()} calls, user with {total} calls; "
          f"median of {args.repeat} (ms)")
    print(f"{'case':<34}{'indexed':>10}{'no index':>10}{'speed-up':>10}")
    for label, _ in cases:
        a, b = with_indexes[label], without[label]
        print(f"{label:<34}{a:>10.1f}{b:>10.1f}{b / a:>9.1f}×")
    worst = max(with_indexes.values())
    print(f"goal: every case under 50 ms median — {'met' if worst < 50 else 'MISSED'} (worst {worst:.1f} ms)")


if __name__ == "__main__":
    main()
