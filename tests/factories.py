"""factory-boy factories for every model; related objects kept consistent."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Max
from factory.django import DjangoModelFactory

from accounts.models import Membership, Organisation
from detection.engine.detector import Detector
from detection.models import BacktestRun, ModelVersion, RiskPolicy, Score
from review.models import ReviewItem
from rules.models import ListEntry, Rule, RuleVersion, ValueList
from transactions.models import Channel, Source, Transaction

User = get_user_model()
# Every factory's rows belong to this organisation unless told otherwise; the personas are its members.
TEST_ORGANISATION = "test-org"


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("name",)

    name = TEST_ORGANISATION


def default_organisation() -> Organisation:
    return OrganisationFactory()


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "pass-word-123")
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get(name=role))

    @factory.post_generation
    def organisations(self, create, extracted, **kwargs):
        """Member of the test organisation unless given others (an empty list: of none)."""
        if create:
            for organisation in organisation_list(extracted):
                Membership.objects.get_or_create(user=self, organisation=organisation)


def organisation_list(given) -> list[Organisation]:
    return [default_organisation()] if given is None else list(given)


class SourceFactory(DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("organisation", "name")

    organisation = factory.LazyFunction(default_organisation)
    name = factory.Sequence(lambda n: f"source-{n}")
    kind = Source.Kind.PARTNER


class UploadJobFactory(DjangoModelFactory):
    """A scoring job of a person's upload (the organisation's uploads source), finished; its file is not there."""

    class Meta:
        model = "detection.ScoringJob"

    source = factory.LazyFunction(
        lambda: Source.objects.get_or_create(
            organisation=default_organisation(), name=Source.UPLOADS, defaults={"kind": Source.Kind.UPLOAD}
        )[0]
    )
    file_path = "jobs/missing.csv"
    file_format = "csv"
    original_name = factory.Sequence(lambda n: f"upload-{n}.csv")
    status = "done"


class TransactionFactory(DjangoModelFactory):
    class Meta:
        model = Transaction

    source = factory.SubFactory(SourceFactory, name="factory-source")
    transaction_id = factory.Sequence(lambda n: f"tx-{n:08d}")
    timestamp = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=17 * n))
    account_id = factory.Sequence(lambda n: f"acct-{n % 20:03d}")
    amount = factory.Sequence(lambda n: Decimal("10.00") + Decimal(n % 50))
    currency = "EUR"
    merchant_id = factory.Sequence(lambda n: f"merch-{n % 30:03d}")
    merchant_category = "grocery"
    channel = Channel.IN_PERSON


class ModelVersionFactory(DjangoModelFactory):
    class Meta:
        model = ModelVersion

    organisation = factory.LazyFunction(default_organisation)
    # The organisation's next number: a counter of the process's own would collide with versions the services
    # numbered (a trained fixture's) in whatever order the tests ran.
    version = factory.LazyAttribute(
        lambda o: (ModelVersion.objects.filter(organisation=o.organisation).aggregate(n=Max("version"))["n"] or 0) + 1
    )
    status = ModelVersion.Status.READY
    algorithms = factory.LazyFunction(lambda: ["isolation_forest", "autoencoder"])
    # A readable artifact of an untrained detector: enough to be activated, not to score.
    artifact = factory.LazyFunction(lambda: Detector.__new__(Detector).to_bytes())


class RiskPolicyFactory(DjangoModelFactory):
    class Meta:
        model = RiskPolicy

    organisation = factory.LazyFunction(default_organisation)


class BacktestRunFactory(DjangoModelFactory):
    """A run of a file that is not there: enough for its pages and access rules, not to replay."""

    class Meta:
        model = BacktestRun

    organisation = factory.LazyFunction(default_organisation)
    file_path = "x.csv"
    label_column = "y"


class ScoreFactory(DjangoModelFactory):
    class Meta:
        model = Score

    transaction = factory.SubFactory(TransactionFactory)
    model_version = factory.SubFactory(
        ModelVersionFactory, organisation=factory.SelfAttribute("..transaction.source.organisation")
    )
    score = 0.97
    risk_level = Score.RiskLevel.HIGH
    is_anomaly = True
    reasons = factory.LazyFunction(lambda: ["amount 7.4x this account's median"])
    transaction_time = factory.SelfAttribute("transaction.timestamp")


class ReviewItemFactory(DjangoModelFactory):
    class Meta:
        model = ReviewItem

    score = factory.SubFactory(ScoreFactory)
    transaction = factory.SelfAttribute("score.transaction")
    priority = factory.SelfAttribute("score.score")


class AlertRuleFactory(DjangoModelFactory):
    class Meta:
        model = "alerts.AlertRule"

    organisation = factory.LazyFunction(default_organisation)
    name = factory.Sequence(lambda n: f"rule-{n}")
    min_risk_level = Score.RiskLevel.HIGH
    channel = "webhook"
    destination = "http://127.0.0.1:9/hook"


class ValueListFactory(DjangoModelFactory):
    class Meta:
        model = ValueList

    organisation = factory.LazyFunction(default_organisation)
    name = factory.Sequence(lambda n: f"list_{n}")
    kind = ValueList.Kind.MERCHANT


class ListEntryFactory(DjangoModelFactory):
    class Meta:
        model = ListEntry

    value_list = factory.SubFactory(ValueListFactory)
    value = factory.Sequence(lambda n: f"value-{n}")


class RuleFactory(DjangoModelFactory):
    class Meta:
        model = Rule

    organisation = factory.LazyFunction(default_organisation)
    name = factory.Sequence(lambda n: f"rule_{n}")


class RuleVersionFactory(DjangoModelFactory):
    """A rule's version (version 1 of a new rule unless told); a draft unless a status is given."""

    class Meta:
        model = RuleVersion

    rule = factory.SubFactory(RuleFactory)
    version = 1
    expression = "amount > 500"
    action = "review"
