"""The on-call and SMS channels: PagerDuty, Opsgenie, Microsoft Teams and Twilio SMS, each a module with
`send(delivery, alerts, *, secret, timeout) -> int` that builds the service's documented request and posts it.
Retries and the delivery log are the delivery's (alerts/delivery.py); here only what each service expects."""

from alerts.channels import opsgenie, pagerduty, teams, twilio
from alerts.models import AlertRule

SENDERS = {
    AlertRule.Channel.PAGERDUTY: pagerduty.send,
    AlertRule.Channel.OPSGENIE: opsgenie.send,
    AlertRule.Channel.TEAMS: teams.send,
    AlertRule.Channel.SMS: twilio.send,
}
