"""The import_transactions and generate_transactions commands."""

from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import Max, Min

from tests.transactions.csv_files import SEED_HEADER, write_csv
from transactions.models import LabelEvent, Source, Transaction
from transactions.validation import CANONICAL_FIELDS

SEED_ROWS = [
    [
        "TXN_1",
        "2023-01-12 01:50:00",
        "527.3544179185092",
        "food",
        "7.12",
        "0",
        "27.49",
        "3564",
        "4",
        "1078.71",
        "0",
        "0",
    ],
    [
        "TXN_2",
        "2023-08-08 23:42:00",
        "222.0990118075112",
        "retail",
        "8.05",
        "1",
        "0.53",
        "1748",
        "4",
        "886.93",
        "1",
        "2",
    ],
    ["TXN_3", "2023-08-09 99:00:00", "12", "retail", "1", "1", "0.5", "1748", "1", "10", "0", "0"],
]
SEED_MAP = [
    "transaction_id=transaction_id",
    "timestamp=timestamp",
    "account_id=user_id",
    "amount=amount",
    "merchant_category=merchant_category",
    "location_distance_km=location_distance_km",
    "channel=is_online",
]
SEED_ATTRIBUTES = "time_since_last_transaction_minutes,transaction_count_1h,total_amount_24h"


@pytest.fixture
def seed_csv(tmp_path):
    return write_csv(tmp_path / "seed.csv", [SEED_HEADER, *SEED_ROWS])


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def no_organisation(db):
    """No organisation exists yet (as in a fresh installation)."""


@pytest.fixture(autouse=True)
def _one_organisation(request):
    """The commands store into the only organisation there is: the test organisation (unless no_organisation)."""
    if request.node.get_closest_marker("django_db") and "no_organisation" not in request.fixturenames:
        request.getfixturevalue("organisation")


@pytest.mark.django_db
def test_import_with_the_seed_mapping_prints_the_summary_and_rejections(seed_csv):
    output = run(
        "import_transactions",
        str(seed_csv),
        "--map",
        *SEED_MAP,
        "--attributes",
        SEED_ATTRIBUTES,
        "--label",
        "is_anomaly",
        "--exclude",
        "anomaly_type",
        "--source",
        "seed",
    )

    assert "Imported 3 rows into source 'seed'" in output
    assert "stored 2, duplicates 0, rejected 1." in output
    assert "timestamp: not a date (expected ISO 8601 or YYYY-MM-DD HH:MM:SS): 1" in output
    assert "row 3: timestamp:" in output
    stored = Transaction.objects.get(transaction_id="TXN_2")
    assert (stored.account_id, str(stored.amount), stored.channel, stored.label) == ("1748", "222.10", "online", 1)
    assert stored.attributes == {
        "time_since_last_transaction_minutes": 0.53,
        "transaction_count_1h": 4,
        "total_amount_24h": 886.93,
    }


@pytest.mark.django_db
def test_import_again_reports_duplicates(seed_csv):
    run("import_transactions", str(seed_csv), "--map", *SEED_MAP, "--source", "seed")

    output = run("import_transactions", str(seed_csv), "--map", *SEED_MAP, "--source", "seed")

    assert "stored 0, duplicates 2, rejected 1." in output
    assert Transaction.objects.count() == 2


@pytest.mark.django_db
def test_import_names_a_mapped_column_the_file_lacks(seed_csv):
    with pytest.raises(CommandError, match="'customer' is not in the file"):
        run("import_transactions", str(seed_csv), "--map", "account_id=customer")

    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_import_refuses_a_malformed_map(seed_csv):
    with pytest.raises(CommandError, match="FIELD=COLUMN"):
        run("import_transactions", str(seed_csv), "--map", "account_id")


@pytest.mark.django_db
def test_generate_store_keeps_labels_back_by_default():
    output = run("generate_transactions", "--accounts", "20", "--days", "5", "--seed", "1", "--store")

    assert "under source 'demo' of test-org (without labels)" in output
    assert Source.objects.get(name="demo").kind == Source.Kind.DEMO
    assert Transaction.objects.count() > 100
    assert not Transaction.objects.filter(label__isnull=False).exists()
    assert not Transaction.objects.filter(attributes__has_key="anomaly_type").exists()


@pytest.mark.django_db
def test_generate_store_with_labels_records_them_as_imported():
    run("generate_transactions", "--accounts", "20", "--days", "5", "--seed", "1", "--store", "--with-labels")

    fraud = Transaction.objects.filter(label=1)
    assert fraud.exists()
    assert set(fraud.values_list("label_source", flat=True)) == {"import"}
    assert not fraud.filter(attributes__anomaly_type=None).exists()
    assert LabelEvent.objects.count() == Transaction.objects.count()


@pytest.mark.django_db
def test_generate_recent_ends_now_not_at_the_end_of_today():
    now = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        run("generate_transactions", "--accounts", "30", "--days", "3", "--seed", "1", "--store", "--start", "recent")

    times = Transaction.objects.aggregate(first=Min("timestamp"), last=Max("timestamp"))
    assert times["first"] >= datetime(2026, 3, 8, tzinfo=UTC)
    assert datetime(2026, 3, 10, tzinfo=UTC) < times["last"] <= now  # today's morning, not its afternoon


@pytest.mark.django_db
def test_generate_store_twice_is_idempotent():
    run("generate_transactions", "--accounts", "20", "--days", "5", "--seed", "1", "--store")
    count = Transaction.objects.count()

    output = run("generate_transactions", "--accounts", "20", "--days", "5", "--seed", "1", "--store")

    expected = f"Stored 0 new transactions under source 'demo' of test-org (without labels); {count:,} were already"
    assert expected in output


@pytest.mark.django_db
def test_generated_csv_imports_back_with_its_labels(tmp_path):
    path = tmp_path / "demo.csv"
    run("generate_transactions", "--accounts", "20", "--days", "5", "--seed", "1", "--output", str(path))
    fields = [name for name in CANONICAL_FIELDS if name != "label"]

    output = run(
        "import_transactions",
        str(path),
        "--map",
        *[f"{f}={f}" for f in fields],
        "--attributes",
        "terminal_id,anomaly_type",
        "--label",
        "label",
    )

    assert "rejected 0." in output
    assert (
        Transaction.objects.filter(label=1).count()
        == Transaction.objects.filter(attributes__has_key="anomaly_type").count()
        > 0
    )


# ------------------------------------------------------------------ --organisation


@pytest.mark.django_db
def test_import_stores_into_the_named_organisations_source(seed_csv, organisation, other_organisation):
    output = run(
        "import_transactions", str(seed_csv), "--map", *SEED_MAP, "--source", "seed", "--organisation", "other-org"
    )

    assert "Imported 3 rows into source 'seed' of other-org" in output
    assert set(Transaction.objects.values_list("source__organisation__name", flat=True)) == {"other-org"}


@pytest.mark.django_db
def test_the_same_source_name_in_two_organisations_is_two_sources(seed_csv, organisation, other_organisation):
    run("import_transactions", str(seed_csv), "--map", *SEED_MAP, "--source", "seed", "--organisation", "test-org")

    output = run(
        "import_transactions", str(seed_csv), "--map", *SEED_MAP, "--source", "seed", "--organisation", "other-org"
    )

    assert "stored 2, duplicates 0, rejected 1." in output  # the other organisation's rows are not its duplicates
    assert Source.objects.filter(name="seed").count() == 2
    assert Transaction.objects.filter(transaction_id="TXN_2").count() == 2


@pytest.mark.django_db
def test_without_organisation_the_commands_refuse_to_guess_among_several(seed_csv, organisation, other_organisation):
    with pytest.raises(
        CommandError, match=r"name the organisation with --organisation \(one of: other-org, test-org\)"
    ):
        run("import_transactions", str(seed_csv), "--map", *SEED_MAP)
    with pytest.raises(CommandError, match="one of: other-org, test-org"):
        run("generate_transactions", "--accounts", "5", "--days", "1", "--store")

    assert not Transaction.objects.exists()


@pytest.mark.django_db
def test_an_unknown_organisation_is_named_with_those_there_are(seed_csv, organisation):
    with pytest.raises(CommandError, match=r"no organisation named 'acme'; there are: test-org"):
        run("import_transactions", str(seed_csv), "--map", *SEED_MAP, "--organisation", "acme")


def test_storing_before_any_organisation_exists_says_how_to_create_one(no_organisation):
    with pytest.raises(CommandError, match="create_organisation NAME"):
        run("generate_transactions", "--accounts", "5", "--days", "1", "--store")


def test_generating_a_csv_needs_no_organisation(no_organisation, tmp_path):
    path = tmp_path / "demo.csv"

    run("generate_transactions", "--accounts", "5", "--days", "1", "--output", str(path))

    assert path.stat().st_size > 0


@pytest.mark.django_db(transaction=True)
def test_a_file_in_the_canonical_shape_imports_without_a_map_and_its_label_column_is_the_label(tmp_path):
    path = tmp_path / "canonical.csv"
    path.write_text(
        "transaction_id,timestamp,account_id,amount,merchant_id,label,note\n"
        "C1,2024-03-01T10:00:00Z,acct-1,12.50,m-1,1,ignored\n"
        "C2,2024-03-01T11:00:00Z,acct-2,7.25,m-2,0,ignored\n"
    )
    call_command("import_transactions", str(path), stdout=StringIO())
    stored = {t.transaction_id: t for t in Transaction.objects.all()}
    assert set(stored) == {"C1", "C2"}
    assert stored["C1"].account_id == "acct-1" and stored["C1"].merchant_id == "m-1"
    assert (stored["C1"].label, stored["C2"].label) == (1, 0)
    assert stored["C1"].attributes == {}  # a column that is no canonical field is not read


@pytest.mark.django_db
def test_a_file_without_a_map_that_lacks_a_required_column_is_refused_naming_it(tmp_path):
    path = tmp_path / "partial.csv"
    path.write_text("transaction_id,timestamp,amount\nC1,2024-03-01T10:00:00Z,12.50\n")
    with pytest.raises(CommandError, match="account_id"):
        call_command("import_transactions", str(path), stdout=StringIO())
    assert not Transaction.objects.exists()
