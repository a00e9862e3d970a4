"""Decisions benchmark: what 50 rules in force cost the partner API, measured side by side in one run.

Issue #23's targets: with 50 active rules (comparisons, aggregates, lookups in lists of 100,000 entries) the
single-score median grows by at most 1 ms, and the batch endpoint keeps at least 85% of its rows/s without rules.

One server (gunicorn, 2 workers) on a fresh copy of the API benchmark's database (bench/api_common.py) holding three
lists of 100,000 entries each and the 50 rules. Rounds alternate the rules off and on (ABBA: off-on, on-off, …, so
a machine growing busier or quieter weighs on both alike); every switch is announced as publishing does, waited
for (the scoring processes look at most once a second) and warmed up. Each phase sends single scores one after the
other, then batches of 1,000 from one client; every row is new (stored, featured, scored, decided).

    .venv/bin/python bench/rules_bench.py                       # 6 rounds
    .venv/bin/python bench/rules_bench.py --rounds 10 --single 300 --batches 8
"""

import argparse
import io
import json
import statistics
import time
import uuid

from api_bench import Client, fresh_run_database, percentile, start_server, stop_server
from api_common import bench_organisation, prepare, request_rows, setup_django

LIST_SIZE = 100_000
SINGLE_TARGET_MS = 1.0
BATCH_TARGET_SHARE = 0.85


def rules_of(lists: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """50 rules as (name, expression, action): 20 comparisons, 15 on aggregates, 15 list lookups. Most rarely match
    (a real policy's rarely fire), a few tags match many rows, so matched rules are stored and answered too."""
    comparisons = [
        *((f"amount_over_{200 + 100 * k}", f"amount > {200 + 100 * k}", "tag") for k in range(6)),
        ("tiny_amount", "amount < 1", "review"),
        ("round_amount", "amount >= 100 and amount % 100 == 0", "tag"),
        ("night_large", "hour < 5 and amount > 300", "review"),
        ("weekend_large", "weekday >= 6 and amount > 400", "review"),
        ("long_merchant_id", "length(merchant_id) > 12", "review"),
        ("online_large", 'channel == "online" and amount > 250', "review"),
        ("atm", 'channel == "atm"', "tag"),
        ("far_away", "location_distance_km > 500", "review"),
        ("critical_score", "score >= 0.995", "block"),
        ("high_score_large", "score >= 0.9 and amount > 150", "review"),
        ("risk_critical", 'risk_level == "critical"', "tag"),
        ("supervised_high", "score_supervised >= 0.99", "review"),
        ("mid_amount", "amount > 90 and amount < 91", "tag"),
        ("low_score_allow", "score < 0.0001 and amount < 2", "allow"),
    ]
    aggregates = [
        ("burst_1h", "count_1h_account >= 4", "review"),
        ("busy_24h", "count_24h_account > 12", "review"),
        ("busy_7d", "count_7d_account > 60", "tag"),
        ("spend_24h", "sum_24h_account > 3000", "review"),
        ("spend_7d", "sum_7d_account > 15000", "tag"),
        ("atypical_amount", "amount_vs_typical_account > 8", "review"),
        ("atypical_z", "amount_zscore_account > 6", "review"),
        ("first_merchant_large", "first_merchant_for_account and amount > 200", "review"),
        ("quick_repeat", "seconds_since_previous_account < 30 and amount > 100", "review"),
        ("merchant_busy", "count_24h_merchant > 300", "tag"),
        ("merchant_frauds", "known_frauds_7d_merchant >= 3", "review"),
        ("merchant_fraud_share", "known_fraud_share_14d_merchant > 0.5 and known_labels_14d_merchant > 4", "block"),
        ("account_frauds", "known_frauds_30d_account >= 1", "review"),
        ("peak_7d", "peak_amount_7d_vs_typical_account > 10", "tag"),
        ("mean_jump", "mean_amount_24h_account > 5 * mean_amount_30d_account", "review"),
    ]
    names = list(lists)
    lookups = [
        ("watched_account", f"account_id in lists.{names[0]}", "review"),
        ("blocked_terminal", f"merchant_id in lists.{names[1]}", "block"),
        ("review_terminal_large", f"merchant_id in lists.{names[2]} and amount > 50", "review"),
        ("watched_account_large", f"account_id in lists.{names[0]} and amount > 200", "block"),
        ("blocked_terminal_online", f'merchant_id in lists.{names[1]} and channel == "online"', "block"),
        *((f"watched_account_over_{k}", f"account_id in lists.{names[0]} and amount > {k}", "tag") for k in (10, 50)),
        *((f"review_terminal_over_{k}", f"merchant_id in lists.{names[2]} and amount > {k}", "tag") for k in (10, 500)),
        ("either_list", f"account_id in lists.{names[0]} or merchant_id in lists.{names[1]}", "review"),
        ("both_lists", f"account_id in lists.{names[0]} and merchant_id in lists.{names[2]}", "block"),
        ("not_listed_large", f"not (merchant_id in lists.{names[2]}) and amount > 900", "tag"),
        ("listed_burst", f"account_id in lists.{names[0]} and count_1h_account >= 2", "block"),
        ("listed_atypical", f"merchant_id in lists.{names[1]} and amount_vs_typical_account > 3", "block"),
        ("trusted_terminal", f"merchant_id in lists.{names[2]} and amount < 1", "allow"),
    ]
    return comparisons + aggregates + lookups


def lists_create(organisation_id: int, rows: list[dict]) -> dict[str, list[str]]:
    """Three lists of LIST_SIZE entries: made-up values, and 1% of the request rows' accounts or terminals (so some
    lookups match); made as a CSV upload makes them."""
    from rules.lists.services import list_entries_import, value_list_create

    accounts = sorted({r["account_id"] for r in rows})
    terminals = sorted({r["merchant_id"] for r in rows})
    wanted = {
        "watched_accounts": ("account", accounts[::100]),
        "blocked_terminals": ("merchant", terminals[::100]),
        "review_terminals": ("merchant", terminals[50::100]),
    }
    made = {}
    for name, (kind, real) in wanted.items():
        value_list = value_list_create(organisation_id=organisation_id, name=name, kind=kind)
        values = real + [f"{name}-{n}" for n in range(LIST_SIZE - len(real))]
        stream = io.BytesIO(("value\n" + "\n".join(values) + "\n").encode())
        outcome = list_entries_import(value_list=value_list, stream=stream)
        assert not outcome.errors, outcome.errors[:3]
        made[name] = values
    return made


def rules_create(organisation_id: int, lists: dict[str, list[str]]) -> int:
    """The 50 rules, each validated and published as the API does; then switched off until a phase wants them."""
    from rules.models import Rule
    from rules.policy.services import rule_create, rule_publish

    for name, expression, action in rules_of(lists):
        version = rule_create(organisation_id=organisation_id, name=name, expression=expression, action=action)
        rule_publish(rule=version.rule, untested=True)
    rules_switch(organisation_id, on=False)
    return Rule.objects.filter(organisation_id=organisation_id).count()


def rules_switch(organisation_id: int, *, on: bool) -> None:
    """Every rule of the organisation in force, or none; announced to the scoring processes as publishing does."""
    from rules.models import RuleVersion
    from rules.policy.revision import rules_changed

    Status = RuleVersion.Status
    before, after = (Status.DISABLED, Status.ACTIVE) if on else (Status.ACTIVE, Status.DISABLED)
    RuleVersion.objects.filter(rule__organisation_id=organisation_id, status=before).update(status=after)
    rules_changed(organisation_id)


def phase(secret: str, singles: list[dict], batches: list[list[dict]], warm: list[dict]) -> dict:
    client = Client(secret)
    for row in warm:  # each worker sees the switch (the rules compiled, the lists loaded once)
        status, _, content = client.post("/api/v1/transactions/score", row)
        assert status == 201, (status, content[:300])
    times = []
    for row in singles:
        status, seconds, content = client.post("/api/v1/transactions/score", row)
        assert status == 201, (status, content[:300])
        times.append(seconds)
    rates, decided = [], {}
    for items in batches:
        body = json.dumps({"transactions": items}).encode()
        status, seconds, content = client.post("/api/v1/transactions/score/batch", body)
        assert status == 200, (status, content[:300])
        results = json.loads(content)["results"]
        assert len(results) == len(items)
        rates.append(len(items) / seconds)
        for result in results:
            decided[result["decision"]] = decided.get(result["decision"], 0) + 1
            decided["with_rules"] = decided.get("with_rules", 0) + bool(result["rules"])
    return {"times": times, "rates": rates, "decided": decided}


def in_process(organisation_id: int, transaction_ids: list[str], repeats: int) -> dict:
    """The same comparison without HTTP and PostgreSQL: the CPU time (this thread's, so other processes on the
    machine weigh less) of scoring and deciding stored rows in this process, a row at a time and 1,000 at once,
    rules off and on alternately."""
    from detection.scoring import adapters, registry
    from detection.scoring.services import _Computed
    from rules.deciding.ruleset import rule_sets_forget
    from transactions.models import Transaction

    loaded = registry.active_model(organisation_id=organisation_id)
    stored = list(Transaction.objects.filter(transaction_id__in=transaction_ids[:1000]))
    batch = adapters.frame_for_transactions(stored, organisation_id=organisation_id)
    singles = [adapters.frame_for_transactions([tx], organisation_id=organisation_id) for tx in stored[:200]]
    times: dict[tuple[str, bool], list[float]] = {}
    for round_ in range(repeats):
        for on in (False, True) if round_ % 2 == 0 else (True, False):
            rules_switch(organisation_id, on=on)
            rule_sets_forget()
            _Computed.of(loaded.detector, *singles[0], organisation_id=organisation_id)  # compiles, loads the lists
            for name, frames in (("single", singles), ("batch", [batch])):
                for columns, targets in frames:
                    started = time.thread_time()
                    _Computed.of(loaded.detector, columns, targets, organisation_id=organisation_id)
                    times.setdefault((name, on), []).append(time.thread_time() - started)
    ms = {key: statistics.median(values) * 1000 for key, values in times.items()}
    return decide_one_row(organisation_id, loaded, singles) | {
        "in_process_single_cpu_ms_without": round(ms["single", False], 3),
        "in_process_single_cpu_ms_with": round(ms["single", True], 3),
        "in_process_single_growth_ms": round(ms["single", True] - ms["single", False], 3),
        "in_process_batch_rows_per_cpu_s_without": round(len(stored) / ms["batch", False] * 1000),
        "in_process_batch_rows_per_cpu_s_with": round(len(stored) / ms["batch", True] * 1000),
        "in_process_batch_share_kept": round(ms["batch", False] / ms["batch", True], 3),
    }


def decide_one_row(organisation_id: int, loaded, singles, repeats: int = 5) -> dict:
    """The CPU of deciding one scored row alone (rules.deciding.decide_batch), the rules on: the single score's share
    of the 50 rules without the scoring around it."""
    import detection.scoring.deciding as deciding
    from detection.scoring.services import _Computed
    from rules.deciding import decide_batch
    from rules.deciding.ruleset import rule_sets_forget

    rules_switch(organisation_id, on=True)
    rule_sets_forget()  # this process may hold the rules off for up to a second after the switch
    scored = []

    def kept(batch):
        scored.append(batch)
        return decide_batch(batch)

    deciding.decider_register(kept)
    try:
        for columns, targets in singles:
            _Computed.of(loaded.detector, columns, targets, organisation_id=organisation_id)
    finally:
        deciding.decider_unregister(kept)
    times = []
    for _ in range(repeats):
        for batch in scored:
            started = time.thread_time()
            decide_batch(batch)
            times.append(time.thread_time() - started)
    return {"decide_one_row_cpu_ms": round(statistics.median(times) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="Off/on pairs, alternating which comes first.")
    parser.add_argument("--single", type=int, default=200, help="Single scores per phase (after the warm-up).")
    parser.add_argument("--batches", type=int, default=5, help="Batches of 1,000 rows per phase.")
    parser.add_argument("--warm", type=int, default=20, help="Single scores after each switch, not timed.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--in-process", type=int, default=6, help="Off/on pairs of the in-process measure (0: none).")
    args = parser.parse_args()
    prepare()
    setup_django()
    from accounts.services import partner_token_create

    fresh_run_database()
    organisation_id = bench_organisation().pk
    _, secret = partner_token_create(name="bench-rules", scopes=["score"], organisation=bench_organisation())
    per_phase = args.warm + args.single + 1000 * args.batches
    rows = request_rows(28, 2 * args.rounds * per_phase, uuid.uuid4().hex[:6])
    started = time.monotonic()
    lists = lists_create(organisation_id, rows)
    rule_count = rules_create(organisation_id, lists)
    print(
        json.dumps(
            {
                "lists": len(lists),
                "entries_each": LIST_SIZE,
                "rules": rule_count,
                "setup_s": round(time.monotonic() - started, 1),
            }
        ),
        flush=True,
    )
    # gunicorn as the API benchmark runs it, waited for longer: a busy machine's first answer can take minutes
    process = start_server("gunicorn", args.workers, deadline_s=300.0)
    results: dict[bool, list[dict]] = {False: [], True: []}
    sent = [row["transaction_id"] for row in rows]
    try:
        for round_ in range(args.rounds):
            order = (False, True) if round_ % 2 == 0 else (True, False)
            for on in order:
                rules_switch(organisation_id, on=on)
                time.sleep(1.2)  # a scoring process looks at most once a second
                share, rows = rows[:per_phase], rows[per_phase:]
                warm, singles = share[: args.warm], share[args.warm : args.warm + args.single]
                chunk = share[args.warm + args.single :]
                batches = [chunk[start : start + 1000] for start in range(0, len(chunk), 1000)]
                results[on].append(phase(secret, singles, batches, warm))
    finally:
        stop_server(process)
    figures = summary(results, args)
    if args.in_process:
        figures |= in_process(organisation_id, sent[:1000], args.in_process)
    print(json.dumps(figures), flush=True)


def summary(results: dict[bool, list[dict]], args) -> dict:
    def pooled(on: bool, key: str) -> list[float]:
        return [value for result in results[on] for value in result[key]]

    off_ms, on_ms = (statistics.median(pooled(on, "times")) * 1000 for on in (False, True))
    off_rate, on_rate = (statistics.median(pooled(on, "rates")) for on in (False, True))
    decided: dict[str, int] = {}
    for result in results[True]:
        for key, count in result["decided"].items():
            decided[key] = decided.get(key, 0) + count
    return {
        "rounds": args.rounds,
        "single_requests_each": args.rounds * args.single,
        "batches_each": args.rounds * args.batches,
        "single_median_ms_without": round(off_ms, 3),
        "single_median_ms_with": round(on_ms, 3),
        "single_median_growth_ms": round(on_ms - off_ms, 3),
        "single_p99_ms_without": round(percentile(pooled(False, "times"), 0.99) * 1000, 3),
        "single_p99_ms_with": round(percentile(pooled(True, "times"), 0.99) * 1000, 3),
        "batch_rows_per_s_without": round(off_rate),
        "batch_rows_per_s_with": round(on_rate),
        "batch_share_kept": round(on_rate / off_rate, 3),
        "batch_decisions_with_rules": decided,
        "single_target_met": on_ms - off_ms <= SINGLE_TARGET_MS,
        "batch_target_met": on_rate / off_rate >= BATCH_TARGET_SHARE,
    }


if __name__ == "__main__":
    main()
