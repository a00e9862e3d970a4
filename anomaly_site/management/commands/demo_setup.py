import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.models import Organisation
from accounts.services import ADMIN, ANALYST, LEAD, VIEWER, membership_add, partner_token_create, roles_sync
from detection.scoring.services import score_transactions
from detection.training.services import model_version_activate, model_version_train
from transactions.models import Transaction

DEMO_USERS = (("analyst", ANALYST, False), ("lead", LEAD, False), ("admin", ADMIN, True), ("viewer", VIEWER, False))
DEMO_ORGANISATION = "demo"


class Command(BaseCommand):
    help = (
        "On an empty database: the organisation demo with transactions, users, a partner token, a trained active "
        "model and a queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=400)
        parser.add_argument("--days", type=int, default=45)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--score-days", type=int, default=2, help="Score the newest N days into the queue.")

    def handle(self, *args, accounts, days, seed, score_days, **options):
        if Transaction.objects.exists():
            self.stdout.write("The database already holds transactions: demo not loaded again.")
            return
        roles_sync()
        organisation, _ = Organisation.objects.get_or_create(name=DEMO_ORGANISATION)
        self.stdout.write(f"Generating {days} days of transactions for {accounts} accounts…")
        call_command(
            "generate_transactions",
            organisation=organisation.name,
            accounts=accounts,
            days=days,
            seed=seed,
            start="recent",
            store=True,
            stdout=self.stdout,
        )
        newest = Transaction.objects.order_by("-timestamp").values_list("timestamp", flat=True).first()
        cutoff = newest - timedelta(days=score_days)
        self.stdout.write("Training the first model version…")
        version = model_version_train(organisation=organisation, until=cutoff, seed=seed)
        model_version_activate(version=version)
        self.stdout.write(f"v{version.version} trained on {version.training_rows} transactions and activated.")
        self._score_recent(cutoff)
        self._create_people(organisation)

    def _score_recent(self, cutoff) -> None:
        recent = list(Transaction.objects.filter(timestamp__gte=cutoff).order_by("timestamp", "id"))
        flagged = 0
        for start in range(0, len(recent), 1000):
            flagged += sum(s.is_anomaly for s in score_transactions(transactions=recent[start : start + 1000]))
        self.stdout.write(f"Scored the newest {len(recent)} transactions: {flagged} flagged for review.")

    def _create_people(self, organisation: Organisation) -> None:
        user_model = get_user_model()
        lines = []
        for username, role, is_staff in DEMO_USERS:
            if user_model.objects.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(9)
            user = user_model.objects.create_user(
                username=username, password=password, is_staff=is_staff, is_superuser=is_staff
            )
            user.groups.add(Group.objects.get(name=role))
            membership_add(user=user, organisation=organisation)
            lines.append(f"  {username:8} {password}   ({role})")
        _, secret = partner_token_create(
            name="demo-partner", scopes=["score", "label", "read"], organisation=organisation
        )
        self.stdout.write(self.style.SUCCESS("Demo users (shown once):"))
        self.stdout.write("\n".join(lines))
        self.stdout.write(self.style.SUCCESS("Partner API token for demo-partner (shown once):"))
        self.stdout.write(f"  {secret}")
